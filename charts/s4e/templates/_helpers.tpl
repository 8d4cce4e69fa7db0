{{/*
Names, labels and the pieces every workload shares. The service templates (core.yaml,
base.yaml, …) say what differs: their settings and the secrets they read; _component.tpl
turns that into the Kubernetes objects.
*/}}

{{- define "s4e.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The port each service listens on (its built-in default, so the README's ports hold). */}}
{{- define "s4e.port" -}}
{{- get (dict "core" 8080 "base" 8081 "scan" 8082 "crawler" 8083 "dispatcher" 8084 "scheduler" 8085 "trigger" 8086) . -}}
{{- end -}}

{{/* (list root component) */}}
{{- define "s4e.name" -}}
{{- printf "%s-%s" (include "s4e.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{/* (list root component): the internal address of a service. */}}
{{- define "s4e.url" -}}
{{- printf "http://%s:%s" (include "s4e.name" .) (include "s4e.port" (index . 1)) -}}
{{- end -}}

{{/* (list root component) */}}
{{- define "s4e.selectorLabels" -}}
app.kubernetes.io/name: s4e
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* (list root component) */}}
{{- define "s4e.labels" -}}
{{ include "s4e.selectorLabels" . }}
app.kubernetes.io/part-of: s4e
app.kubernetes.io/version: {{ (index . 0).Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ (index . 0).Release.Service }}
helm.sh/chart: {{ printf "%s-%s" (index . 0).Chart.Name (index . 0).Chart.Version }}
{{- end -}}

{{/* (list root component): the image of one service. */}}
{{- define "s4e.image" -}}
{{- $root := index . 0 -}}
{{- $image := $root.Values.image -}}
{{- printf "%s/%s-%s:%s" $image.registry $image.repository (index . 1) (default $root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* The labels of the release's own pods (fleet and bundled dependencies). */}}
{{- define "s4e.releaseLabels" -}}
app.kubernetes.io/name: s4e
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "s4e.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "s4e.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The Secret the chart writes (service token, secrets key, URLs given inline). */}}
{{- define "s4e.secretName" -}}
{{- include "s4e.fullname" . -}}
{{- end -}}

{{/*
(list root dependency): where a dependency's URL is read from, as {name, key}: an existing
Secret of the operator's, else the chart's Secret (an inline or bundled URL).
*/}}
{{- define "s4e.urlSecretRef" -}}
{{- $root := index . 0 -}}
{{- $dependency := index . 1 -}}
{{- $values := get $root.Values $dependency -}}
{{- $key := get (dict "postgresql" "database-url" "redis" "redis-url" "rabbitmq" "amqp-url" "mongodb" "mongodb-url") $dependency -}}
{{- if and (not $values.bundled.enabled) $values.external.existingSecret -}}
name: {{ $values.external.existingSecret }}
key: {{ $values.external.existingSecretKey }}
{{- else -}}
name: {{ include "s4e.secretName" $root }}
key: {{ $key }}
{{- end -}}
{{- end -}}

{{/*
(list root secret…): the env entries reading the named secrets: serviceToken, secretsKey,
postgresql, redis, rabbitmq, mongodb.
*/}}
{{- define "s4e.secretEnv" -}}
{{- $root := index . 0 -}}
{{- range $secret := rest . }}
{{- if eq $secret "serviceToken" }}
- name: S4E_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ default (include "s4e.secretName" $root) $root.Values.secrets.existingSecret }}
      key: service-token
{{- else if eq $secret "secretsKey" }}
- name: S4E_SECRETS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default (include "s4e.secretName" $root) $root.Values.secrets.existingSecret }}
      key: secrets-key
      optional: true
{{- else }}
- name: {{ get (dict "postgresql" "S4E_DATABASE_URL" "redis" "S4E_REDIS_URL" "rabbitmq" "S4E_AMQP_URL" "mongodb" "S4E_MONGODB_URL") $secret }}
  valueFrom:
    secretKeyRef:
      {{- include "s4e.urlSecretRef" (list $root $secret) | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What every service's configuration holds. */}}
{{- define "s4e.commonEnv" -}}
S4E_NAMESPACE: {{ .Values.busNamespace | quote }}
S4E_LOG_FORMAT: {{ .Values.logging.format | quote }}
RUST_LOG: {{ .Values.logging.level | quote }}
{{- end -}}

{{/* The egress policy's settings, for the services that reach targets. */}}
{{- define "s4e.egressEnv" -}}
S4E_EGRESS_ALLOW_PRIVATE: {{ .Values.scanning.allowPrivateTargets | toString | quote }}
{{- with .Values.scanning.dnsServers }}
S4E_DNS_SERVERS: {{ join "," . | quote }}
{{- end }}
{{- end -}}

{{/* Whether base migrates the schema as it starts (no migration Job). */}}
{{- define "s4e.migrateOnStart" -}}
{{- or (eq .Values.migrations.mode "onStart") .Values.postgresql.bundled.enabled -}}
{{- end -}}

{{/*
Argo CD's order: the Secret and the bundled dependencies (wave -1), the migration Job (a Sync
hook, wave 0), then the services (wave 1), each wave healthy before the next starts.
*/}}
{{- define "s4e.serviceWave" -}}
argocd.argoproj.io/sync-wave: "1"
{{- end -}}
