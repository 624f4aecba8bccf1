// A read-only query box: the server runs the SQL as the project's role in a READ ONLY
// transaction with a short statement timeout and answers at most a few hundred rows, so a
// look at the data can neither change it nor hang the database. Writes are refused by
// PostgreSQL itself; the error (and its hint) is shown as it comes.
import { Button, Card, Group, ScrollArea, Stack, Table, Text, Textarea, Title } from "@mantine/core";
import { IconPlayerPlay } from "@tabler/icons-react";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { duration, numberFormat } from "../../format.ts";
import type { QueryResult } from "./queries.ts";

export function QueryCard({ projectId }: { projectId: string }) {
  const [sql, setSql] = useState("select now();");
  const run = useMutation({
    mutationFn: async (text: string) =>
      unwrap(await api.POST("/api/v1/projects/{id}/database/query", { params: { path: { id: projectId } }, body: { sql: text } })),
  });
  const submit = () => {
    if (sql.trim() !== "" && !run.isPending) run.mutate(sql);
  };
  return (
    <Card
      withBorder
      padding="md"
      component="form"
      aria-labelledby="database-query-title"
      data-testid="database-query"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <Stack gap="sm">
        <Stack gap={2}>
          <Title order={2} size="h4" id="database-query-title">
            Query
          </Title>
          <Text size="sm" c="dimmed">
            Read-only: runs in a read-only transaction as the project's role, for at most 5 seconds. Change data from a sandbox (psql, migrations).
          </Text>
        </Stack>
        <Textarea
          label="SQL"
          value={sql}
          onChange={(event) => setSql(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              submit();
            }
          }}
          autosize
          minRows={3}
          maxRows={12}
          spellCheck={false}
          styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: "var(--mantine-font-size-sm)" } }}
        />
        <Group>
          <Button type="submit" leftSection={<IconPlayerPlay size={14} aria-hidden />} loading={run.isPending} disabled={sql.trim() === ""}>
            Run query
          </Button>
          <Text size="xs" c="dimmed">
            Ctrl+Enter
          </Text>
        </Group>
        {run.error ? <ErrorAlert error={run.error} title="The query failed" /> : null}
        {run.data && !run.error ? <Results result={run.data} /> : null}
      </Stack>
    </Card>
  );
}

function Results({ result }: { result: QueryResult }) {
  if (result.columns.length === 0) {
    return (
      <Text size="sm" data-testid="database-query-result">
        {result.command ?? "The statement"} ran in {duration(result.durationMs)}; it returns no rows.
      </Text>
    );
  }
  return (
    <Stack gap={4} data-testid="database-query-result">
      <ScrollArea.Autosize mah={420} type="auto">
        <Table verticalSpacing={4} striped withTableBorder aria-label="Query result" style={{ fontFamily: "var(--mantine-font-family-monospace)" }}>
          <Table.Thead>
            <Table.Tr>
              {result.columns.map((c, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: columns may repeat a name (select 1, 1)
                <Table.Th key={i} title={c.type}>
                  {c.name}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {result.rows.map((row, r) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity of their own
              <Table.Tr key={r}>
                {row.map((value, c) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a cell is its column
                  <Table.Td key={c}>
                    <Cell value={value} />
                  </Table.Td>
                ))}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea.Autosize>
      <Text size="xs" c={result.truncated ? "orange" : "dimmed"} data-testid="database-query-count">
        {numberFormat.format(result.rows.length)} {result.rows.length === 1 ? "row" : "rows"}
        {result.truncated ? " shown; the answer was cut there (add a LIMIT, or select fewer or shorter values)." : ` in ${duration(result.durationMs)}.`}
      </Text>
    </Stack>
  );
}

/** A value as PostgreSQL prints it (rendered as text by React, never as markup), or null. */
function Cell({ value }: { value: string | null }) {
  if (value === null) {
    return (
      <Text span size="sm" c="dimmed" fs="italic">
        null
      </Text>
    );
  }
  return <span style={{ whiteSpace: "pre-wrap" }}>{value}</span>;
}
