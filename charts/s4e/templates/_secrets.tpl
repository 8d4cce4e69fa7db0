{{/*
The chart's Secret: what the operator gave inline and the bundled dependencies' URLs. Every
required secret is checked here, so a missing one fails the render naming the value to set.
*/}}

{{/* (list root dependency): the URL of a dependency the chart knows (bundled or inline). */}}
{{- define "s4e.dependencyUrl" -}}
{{- $root := index . 0 -}}
{{- $dependency := index . 1 -}}
{{- $values := get $root.Values $dependency -}}
{{- $host := include "s4e.name" (list $root $dependency) -}}
{{- if $values.bundled.enabled -}}
{{- if eq $dependency "postgresql" -}}
{{- printf "postgres://s4e:%s@%s:5432/s4e" (required "postgresql.bundled.password is required with the bundled PostgreSQL" $values.bundled.password | urlquery) $host -}}
{{- else if eq $dependency "rabbitmq" -}}
{{- printf "amqp://s4e:%s@%s:5672/%%2f" (required "rabbitmq.bundled.password is required with the bundled RabbitMQ" $values.bundled.password | urlquery) $host -}}
{{- else if eq $dependency "redis" -}}
{{- printf "redis://%s:6379" $host -}}
{{- else -}}
{{- printf "mongodb://%s:27017" $host -}}
{{- end -}}
{{- else if $values.external.existingSecret -}}
{{- else if $values.external.url -}}
{{- $values.external.url -}}
{{- else -}}
{{- fail (printf "%s: set %s.external.url, %s.external.existingSecret or %s.bundled.enabled" $dependency $dependency $dependency $dependency) -}}
{{- end -}}
{{- end -}}

{{/* The chart Secret's data (plain values), also hashed into the pods' annotations. */}}
{{- define "s4e.secretData" -}}
{{- $data := dict -}}
{{- if not .Values.secrets.existingSecret -}}
{{- $token := required "secrets.serviceToken is required (at least 32 characters), or name a Secret in secrets.existingSecret" .Values.secrets.serviceToken -}}
{{- if lt (len $token) 32 -}}
{{- fail "secrets.serviceToken must be at least 32 characters long" -}}
{{- end -}}
{{- $_ := set $data "service-token" $token -}}
{{- with .Values.secrets.secretsKey -}}
{{- $_ := set $data "secrets-key" . -}}
{{- end -}}
{{- end -}}
{{- range $dependency, $key := dict "postgresql" "database-url" "redis" "redis-url" "rabbitmq" "amqp-url" "mongodb" "mongodb-url" -}}
{{- with include "s4e.dependencyUrl" (list $ $dependency) -}}
{{- $_ := set $data $key . -}}
{{- end -}}
{{- end -}}
{{- range $dependency := list "postgresql" "rabbitmq" -}}
{{- $bundled := (get $.Values $dependency).bundled -}}
{{- if $bundled.enabled -}}
{{- $_ := set $data (printf "%s-password" $dependency) $bundled.password -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}
