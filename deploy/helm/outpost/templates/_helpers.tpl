{{/*
Named templates shared by the chart's files. The chart keeps to the template subset that
test/deploy/helm-render.ts knows (listed in deploy/README.md): a construct beyond it fails
the chart test, which renders the chart without helm.
*/}}

{{/* The release's base name: 50 characters at most, so "-db-app", "-link" and the rest
still make valid names. */}}
{{- define "outpost.fullname" -}}
{{ .Release.Name | trunc 50 | trimSuffix "-" }}
{{- end }}

{{/* Labels on everything the chart makes. */}}
{{- define "outpost.labels" -}}
app.kubernetes.io/name: outpost
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end }}

{{/* The control plane's pods. Sandbox NetworkPolicies allow egress to pods with exactly
these labels, so they must not change (nor be put on anything else). */}}
{{- define "outpost.controlPlaneSelector" -}}
app.kubernetes.io/name: outpost
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: control-plane
{{- end }}

{{/* The Secret the chart makes for values given in values.yaml. */}}
{{- define "outpost.secretName" -}}
{{ include "outpost.fullname" . }}
{{- end }}

{{/* "true" when the chart must make that Secret: some secret value comes from values.yaml. */}}
{{- define "outpost.chartSecretNeeded" -}}
{{- if or (not .Values.secrets.existingSecret) (include "outpost.databaseUrlFromValues" .) (include "outpost.adminUrlFromValues" .) -}}
true
{{- end }}
{{- end }}

{{/* "true" when DATABASE_URL is postgresql.url (not an existing or CloudNativePG Secret). */}}
{{- define "outpost.databaseUrlFromValues" -}}
{{- if not (or .Values.postgresql.cloudnativePg.enabled .Values.postgresql.existingSecret) -}}
true
{{- end }}
{{- end }}

{{/* "true" when OUTPOST_DATABASE_ADMIN_URL is databases.server.adminUrl. */}}
{{- define "outpost.adminUrlFromValues" -}}
{{- if and (eq .Values.databases.provisioner "server") (not .Values.databases.server.existingSecret) -}}
true
{{- end }}
{{- end }}

{{/* The CloudNativePG Cluster holding the control plane's database. */}}
{{- define "outpost.cnpgClusterName" -}}
{{ include "outpost.fullname" . }}-db
{{- end }}

{{/* The Service supervisors dial (TLS, port 7301). */}}
{{- define "outpost.linkServiceName" -}}
{{ include "outpost.fullname" . }}-link
{{- end }}

{{/* OUTPOST_PUBLIC_URL: publicUrl, else the ingress host's URL, else nothing. */}}
{{- define "outpost.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{ .Values.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.host -}}
{{ if .Values.ingress.tls.enabled }}https{{ else }}http{{ end }}://{{ .Values.ingress.host }}
{{- end }}
{{- end }}
