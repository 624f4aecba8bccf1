// An agent's text as Markdown (GitHub flavour: tables, task lists, strikethrough). What an
// agent writes is untrusted: react-markdown builds React elements and never passes raw HTML
// through (no rehype-raw here, ever), its URL filter drops javascript: and the like, links
// open elsewhere without the opener, and images show as links (no request leaves the page
// just because an agent wrote an image tag).
import { Anchor, Typography } from "@mantine/core";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

const components: Components = {
  a: ({ href, children }) => (
    <Anchor href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </Anchor>
  ),
  img: ({ src, alt }) =>
    typeof src === "string" && src ? (
      <Anchor href={src} target="_blank" rel="noopener noreferrer nofollow">
        [image: {alt || src}]
      </Anchor>
    ) : null,
};

export function Markdown({ text }: { text: string }) {
  return (
    <Typography className="outpost-chat-markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} components={components}>
        {text}
      </ReactMarkdown>
    </Typography>
  );
}
