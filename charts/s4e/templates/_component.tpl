{{/*
One S4E service: its ServiceAccount, ConfigMap, Service, Deployment, PodDisruptionBudget and,
when it may autoscale, HorizontalPodAutoscaler. Called by each service's template with
  root     the chart's context
  name     the service (core, base, …)
  config   its settings as a map of environment variables (plain values)
  secrets  the secrets it reads (see s4e.secretEnv)
  args     its command's arguments (optional)
*/}}
{{- define "s4e.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $values := get $root.Values $name -}}
{{- $fullname := include "s4e.name" (list $root $name) -}}
{{- $port := include "s4e.port" $name | int -}}
{{- /* The chart's wiring wins over the operator's `env`. */ -}}
{{- $config := merge (dict) .config (include "s4e.commonEnv" $root | fromYaml) $values.env -}}
{{- $autoscaling := and (hasKey $values "autoscaling") $values.autoscaling.enabled -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
# The services never call the Kubernetes API.
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
data:
  {{- range $key, $value := $config }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "s4e.selectorLabels" (list $root $name) | nindent 4 }}
  ports:
    - name: http
      port: {{ $port }}
      targetPort: http
      protocol: TCP
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
spec:
  {{- if not $autoscaling }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "s4e.selectorLabels" (list $root $name) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "s4e.labels" (list $root $name) | nindent 8 }}
      annotations:
        # A changed setting or secret rolls the pods.
        checksum/config: {{ $config | toYaml | sha256sum }}
        checksum/secret: {{ include "s4e.secretData" $root | sha256sum }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $fullname }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      {{- if $values.shareProcessNamespace }}
      shareProcessNamespace: true
      {{- end }}
      securityContext:
        {{- include "s4e.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "s4e.image" (list $root $name) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["/usr/local/bin/s4e-{{ $name }}"]
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $fullname }}
          env:
            {{- include "s4e.secretEnv" (prepend .secrets $root) | trim | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 6
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            failureThreshold: 60
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "s4e.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $values.tmpSizeLimit | default "64Mi" }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
spec:
  maxUnavailable: {{ $values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "s4e.selectorLabels" (list $root $name) | nindent 6 }}
{{- if $autoscaling }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "s4e.labels" (list $root $name) | nindent 4 }}
  annotations:
    {{- include "s4e.serviceWave" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    # Workers finish what they hold before they go: scale down slowly.
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end -}}
