{{/* Chart name, overridable. */}}
{{- define "podiam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "podiam.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "podiam.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: never change between releases, or the DaemonSet cannot be upgraded. */}}
{{- define "podiam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podiam.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Full labels for every object. */}}
{{- define "podiam.labels" -}}
{{ include "podiam.selectorLabels" . }}
helm.sh/chart: {{ include "podiam.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: podiam
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "podiam.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "podiam.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The proxy image: a digest pins it; otherwise the tag, defaulting to the chart's appVersion. */}}
{{- define "podiam.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "podiam.clusterName" -}}
{{- required "clusterName is required: install with --set clusterName=<name>, the ClusterName the podiam Lambda functions were deployed with (it is part of every managed role's name)" .Values.clusterName }}
{{- end }}
