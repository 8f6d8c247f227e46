{{/* One datapipe service's pod: the image's binary with a connector
     document, the credentials and CA mounted read-only, /health for the
     probes and /metrics for Prometheus. Called with
     (dict "root" $ "component" "capture" "v" .Values.capture
           "doc" "postgres-cdc-connector.json" "secrets" (list ...)) */}}
{{- define "dip.datapipePod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "dip.labels" . | nindent 4 }}
  annotations:
    checksum/connectors: {{ include (print $root.Template.BasePath "/datapipe/connectors.yaml") $root | sha256sum }}
    {{- if $root.Values.prometheus.annotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .v.metricsPort | quote }}
    prometheus.io/path: /metrics
    {{- end }}
spec:
  serviceAccountName: {{ include "dip.name" . }}
  securityContext:
    {{- include "dip.podSecurity" (dict "root" $root "uid" 10001) | nindent 4 }}
  terminationGracePeriodSeconds: 60
  containers:
    - name: {{ .component }}
      image: {{ include "dip.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: [{{ .component | quote }}, "--config", {{ printf "/etc/datapipe/connectors/%s" .doc | quote }}]
      {{- with .env }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .v.metricsPort }}
      # /health is 200 while the service makes progress (a long snapshot
      # included) and 503 while it cannot reach what it needs
      readinessProbe:
        httpGet: { path: /health, port: metrics }
        periodSeconds: 10
        timeoutSeconds: 5
      livenessProbe:
        httpGet: { path: /health, port: metrics }
        initialDelaySeconds: 30
        periodSeconds: 30
        timeoutSeconds: 5
        failureThreshold: 10
      resources:
        {{- toYaml .v.resources | nindent 8 }}
      securityContext:
        {{- include "dip.containerSecurity" $root | nindent 8 }}
      volumeMounts:
        - { name: connectors, mountPath: /etc/datapipe/connectors, readOnly: true }
        - { name: secrets, mountPath: /etc/datapipe/secrets, readOnly: true }
        - { name: tls, mountPath: /etc/datapipe/tls, readOnly: true }
        {{- with .extraMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: connectors
      configMap:
        name: {{ include "dip.name" (dict "root" $root "component" "datapipe") }}-connectors
        items:
          - { key: {{ .doc }}, path: {{ .doc }} }
    - name: secrets
      secret:
        secretName: {{ include "dip.credentials" $root }}
        defaultMode: 0400
        items:
          {{- range .secrets }}
          - { key: {{ . }}, path: {{ . }} }
          {{- end }}
    - name: tls
      secret:
        secretName: {{ include "dip.tls" $root }}
        defaultMode: 0444
        items:
          - { key: ca.crt, path: ca.crt }
    {{- with .extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
