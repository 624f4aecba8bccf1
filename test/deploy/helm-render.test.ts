// The test renderer of the Helm chart must agree with helm on the subset it knows and refuse
// everything else: a chart test passing on a wrong rendering would be worse than none.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeValues, RequiredValueError, renderTemplate, TemplateError } from "./helm-render.ts";

const data = {
  Values: {
    name: "web",
    empty: "",
    count: 3,
    on: true,
    off: false,
    list: ["a", "b"],
    map: { zeta: "z", alpha: "a" },
    nested: { labels: { tier: "front", app: "x" }, ports: [80, 443] },
    nothing: null,
  },
  Release: { Name: "rel", Namespace: "ns" },
};

describe("the chart renderer: what it supports", () => {
  test("values, quote, default and printf", () => {
    assert.equal(renderTemplate('{{ .Values.name }} {{ .Values.name | quote }} {{ .Values.empty | default "d" }}', data), 'web "web" d');
    assert.equal(renderTemplate('{{ printf "%s-%s" .Release.Name "x" }} {{ .Values.count }} {{ .Values.on | quote }}', data), 'rel-x 3 "true"');
    assert.equal(renderTemplate("[{{ .Values.nothing }}]{{ quote .Values.nothing }}", data), "[]");
    assert.equal(renderTemplate('{{ "a\\"b" | quote }}', data), '"a\\"b"');
  });

  test("whitespace trimming and comments", () => {
    assert.equal(renderTemplate("a  \n  {{- .Values.name -}}  \n  b", data), "awebb");
    assert.equal(renderTemplate("a\n{{- /* gone */ -}}\nb{{/* gone too */}}c", data), "abc");
  });

  test("if / else if / else, with comparisons and logic", () => {
    const source = '{{ if eq .Values.name "api" }}1{{ else if and .Values.on (not .Values.off) }}2{{ else }}3{{ end }}';
    assert.equal(renderTemplate(source, data), "2");
    assert.equal(renderTemplate('{{ if or .Values.empty .Values.off }}y{{ else }}n{{ end }}{{ if ne .Values.name "x" }}!{{ end }}', data), "n!");
    // and/or stop at the first value that decides, like Go's: the missing key is never read.
    assert.equal(renderTemplate("{{ if and .Values.off .Values.missing }}y{{ else }}n{{ end }}", data), "n");
  });

  test("with and range over lists and maps (maps in key order)", () => {
    assert.equal(renderTemplate("{{ with .Values.nested.labels }}{{ .tier }}{{ end }}{{ with .Values.empty }}x{{ else }}none{{ end }}", data), "frontnone");
    assert.equal(renderTemplate("{{ range .Values.list }}<{{ . }}>{{ end }}", data), "<a><b>");
    assert.equal(renderTemplate("{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }};{{ end }}", data), "alpha=a;zeta=z;");
    assert.equal(renderTemplate("{{ range $i, $v := .Values.list }}{{ $i }}{{ $v }}{{ $.Release.Name }}{{ end }}", data), "0arel1brel");
    assert.equal(renderTemplate("{{ range .Values.nothing }}x{{ else }}empty{{ end }}", data), "empty");
  });

  test("toYaml with nindent and indent, as helm writes them", () => {
    const source = "labels:{{ toYaml .Values.nested.labels | nindent 2 }}\nports:\n{{ toYaml .Values.nested.ports | indent 2 }}";
    assert.equal(renderTemplate(source, data), "labels:\n  app: x\n  tier: front\nports:\n  - 80\n  - 443");
    assert.equal(renderTemplate("{{ toYaml .empty }}", { empty: {} }), "{}");
  });

  test("include of named templates, b64enc, trunc and trimSuffix", () => {
    const helpers = '{{- define "name" -}}{{ .Release.Name | trunc 2 | trimSuffix "e" }}-{{ .Values.name }}{{- end }}';
    assert.equal(renderTemplate('{{ include "name" . | quote }} {{ "abc" | b64enc }}', data, helpers), '"r-web" YWJj');
  });

  test("required passes a value through and refuses a missing one with its message", () => {
    assert.equal(renderTemplate('{{ required "need name" .Values.name }}', data), "web");
    assert.throws(
      () => renderTemplate('{{ required "set empty" .Values.empty }}', data),
      (error) => error instanceof RequiredValueError && error.message === "set empty",
    );
  });

  test("overrides merge over values key by key and refuse keys values.yaml lacks", () => {
    const base = { image: { repository: "r", tag: "" }, annotations: {}, list: [1, 2] };
    assert.deepEqual(mergeValues(base, { image: { tag: "v1" }, annotations: { a: "b" }, list: [3] }), {
      image: { repository: "r", tag: "v1" },
      annotations: { a: "b" },
      list: [3],
    });
    assert.throws(() => mergeValues(base, { image: { tga: "v1" } }), /values.yaml has no image.tga/);
  });
});

describe("the chart renderer: what it refuses", () => {
  const refused: [string, string, RegExp][] = [
    ["an unknown function", "{{ upper .Values.name }}", /function upper is outside the supported subset/],
    ["template", '{{ template "x" . }}', /template.*outside the supported subset/],
    ["block", '{{ block "x" . }}{{ end }}', /block.*outside the supported subset/],
    ["a variable declaration", "{{ $x := .Values.name }}", /variables can only be declared by range/],
    ["a key values.yaml lacks", "{{ .Values.nmae }}", /\.Values\.nmae is not set/],
    ["a field of a missing map", "{{ .Values.nothing.deeper }}", /nil pointer evaluating \.Values\.nothing\.deeper/],
    ["printing a map", "{{ .Values.map }}", /use toYaml/],
    ["a number helm prints in exponent form", "{{ .Values.big }}", /exponent form/],
    ["comparing numbers (float64 against int in helm)", "{{ if eq .Values.count 3 }}{{ end }}", /compare strings or booleans/],
    ["printf with a verb beyond %s and %v", '{{ printf "%d" .Values.count }}', /printf %d is outside the subset/],
    ["range over a string", "{{ range .Values.name }}{{ end }}", /range over a string/],
    ["a field of a parenthesized value", '{{ (include "x" .).Foo }}', /parenthesized value/],
    ["a missing end", "{{ if .Values.on }}x", /without \{\{ end \}\}/],
    ["else with", "{{ with .Values.on }}{{ else with .Values.off }}{{ end }}", /only a plain \{\{ else \}\}/],
    ["a comment not right after the braces", "{{ /* no */ }}", /comment must start right after/],
    ["an undefined variable", "{{ $nope }}", /undefined variable \$nope/],
    ["a string escape Go and JSON read differently", '{{ "\\x41" }}', /unsupported escape/],
    ["a wrong argument type", "{{ nindent 2 .Values.count }}", /nindent wants a string/],
  ];
  for (const [what, source, message] of refused) {
    test(what, () => {
      assert.throws(
        () => renderTemplate(source, { ...data, Values: { ...data.Values, big: 1000000 } }),
        (error) => {
          assert.ok(error instanceof TemplateError, `${what}: a TemplateError, got ${error}`);
          assert.match((error as Error).message, message);
          return true;
        },
      );
    });
  }
});
