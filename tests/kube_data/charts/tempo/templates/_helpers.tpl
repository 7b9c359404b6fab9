{{- /* Written for tracestack's tests. Names as the real chart 2.2.4 gives them: the release, when it contains
"tempo", else <release>-tempo. */ -}}
{{- define "test.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-{{ .Chart.Name }}{{ end -}}
{{- end -}}
{{- define "test.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
