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
{{ include "podiam.otherLabels" . }}
{{- end }}

{{/* The labels besides the selector's, for objects that must not match the DaemonSet's selector (the helm test pod). */}}
{{- define "podiam.otherLabels" -}}
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

{{/*
The V8 old-space limit in MiB: 60 % of the container's memory limit (Ki, Mi, Gi, or plain bytes),
so that under a flood the proxy collects garbage before the kernel's OOM killer ends it (and with
it every pod's credentials on the node). Empty when no memory limit is set.
*/}}
{{- define "podiam.heapLimitMi" -}}
{{- $limit := "" -}}
{{- with .Values.resources }}{{ with .limits }}{{ with .memory }}{{ $limit = toString . }}{{ end }}{{ end }}{{ end -}}
{{- if $limit -}}
{{- $mi := 0 -}}
{{- if hasSuffix "Gi" $limit }}{{ $mi = mul (trimSuffix "Gi" $limit | int) 1024 }}
{{- else if hasSuffix "Mi" $limit }}{{ $mi = trimSuffix "Mi" $limit | int }}
{{- else if hasSuffix "Ki" $limit }}{{ $mi = div (trimSuffix "Ki" $limit | int) 1024 }}
{{- else if hasSuffix "G" $limit }}{{ $mi = div (mul (trimSuffix "G" $limit | int) 1000000000) 1048576 }}
{{- else if hasSuffix "M" $limit }}{{ $mi = div (mul (trimSuffix "M" $limit | int) 1000000) 1048576 }}
{{- else if regexMatch "^[0-9]+$" $limit }}{{ $mi = div ($limit | int64) 1048576 }}
{{- else }}{{ fail (printf "resources.limits.memory %q: use Ki, Mi, Gi, M, G or bytes" $limit) }}
{{- end -}}
{{- div (mul $mi 60) 100 -}}
{{- end -}}
{{- end -}}

{{/* NODE_OPTIONS: nodeOptions plus the heap limit derived from the memory limit, unless nodeOptions sets its own. */}}
{{- define "podiam.nodeOptions" -}}
{{- $opts := .Values.nodeOptions | default "" -}}
{{- $heap := include "podiam.heapLimitMi" . -}}
{{- if and $heap (not (contains "--max-old-space-size" $opts)) -}}
{{- $opts = trim (printf "%s --max-old-space-size=%s" $opts $heap) -}}
{{- end -}}
{{- $opts -}}
{{- end -}}

{{/*
The admission function's URL (https://<host>/admit/<secret>), from webhook.url or read from the
Secret webhook.urlSecret names; empty when neither is set. Fails with the fix when the Secret is
missing or its value is not an https:// URL. Used by both webhook configurations.
*/}}
{{- define "podiam.webhookUrl" -}}
{{- $webhook := .Values.webhook }}
{{- $url := $webhook.url }}
{{- $fromSecret := (($webhook.urlSecret | default dict).name) }}
{{- if $fromSecret }}
{{- if $url }}{{ fail "webhook: set webhook.urlSecret.name or webhook.url, not both (webhook.urlSecret keeps the URL, which carries the webhook secret, out of the values)" }}{{ end }}
{{- $key := $webhook.urlSecret.key | default "url" }}
{{- /* The URL is read from the cluster at install/upgrade time. helm template (client-only) sees no
       Secret: render with --dry-run=server, or it fails here rather than render a webhook without a URL. */}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace $fromSecret }}
{{- if not $secret }}{{ fail (printf "webhook.urlSecret: Secret %s/%s was not found (helm template cannot read Secrets: use --dry-run=server). Create it before installing: kubectl -n %s create secret generic %s --from-literal=%s='<WebhookUrlPrefix><webhook secret>'" .Release.Namespace $fromSecret .Release.Namespace $fromSecret $key) }}{{ end }}
{{- $raw := index ($secret.data | default dict) $key }}
{{- if not $raw }}{{ fail (printf "webhook.urlSecret: Secret %s/%s has no key %q; put the webhook URL under that key, or set webhook.urlSecret.key" .Release.Namespace $fromSecret $key) }}{{ end }}
{{- $url = b64dec $raw | trim }}
{{- if not (hasPrefix "https://" $url) }}{{ fail (printf "webhook.urlSecret: the value of key %q in Secret %s/%s is not an https:// URL (the value itself is not shown: it holds the webhook secret)" $key .Release.Namespace $fromSecret) }}{{ end }}
{{- end }}
{{- $url -}}
{{- end -}}
