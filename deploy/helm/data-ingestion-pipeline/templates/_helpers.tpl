{{/* Names: every object is <release>-<component>, labelled with
     app.kubernetes.io/name=<component> so NetworkPolicies can select it. */}}
{{- define "dip.fullname" -}}
{{- printf "%s-%s" .Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dip.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dip.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .component }}
{{- end -}}

{{- define "dip.labels" -}}
{{ include "dip.selector" . }}
app.kubernetes.io/part-of: data-ingestion-pipeline
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "dip.credentials" -}}
{{- default (printf "%s-credentials" .Release.Name) .Values.secrets.credentials -}}
{{- end -}}

{{- define "dip.tls" -}}
{{- default (printf "%s-tls" .Release.Name) .Values.secrets.tls -}}
{{- end -}}

{{- define "dip.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Hostnames inside the cluster */}}
{{- define "dip.kafkaBootstrap" -}}
{{- $root := . -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.kafka.replicas) -}}
{{- $hosts = append $hosts (printf "%s-kafka-%d.%s-kafka-headless.%s.svc:9092" $root.Release.Name $i $root.Release.Name $root.Release.Namespace) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{- define "dip.registryUrl" -}}
{{- printf "https://%s-schema-registry.%s.svc:8081" .Release.Name .Release.Namespace -}}
{{- end -}}

{{- define "dip.postgresHost" -}}
{{- printf "%s-postgresql.%s.svc" .Release.Name .Release.Namespace -}}
{{- end -}}

{{/* Pod and container security: non-root, no privilege escalation, every
     capability dropped, read-only root filesystem. */}}
{{- define "dip.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: {{ .root.Values.podSecurity.seccompProfile }}
{{- end -}}

{{- define "dip.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* NetworkPolicy parts: a peer (the pods of one component), and the head
     of one component's policy */}}
{{- define "dip.peer" -}}
- podSelector:
    matchLabels:
      {{- include "dip.selector" . | nindent 6 }}
{{- end }}
{{- define "dip.policy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "dip.name" . }}
  labels:
    {{- include "dip.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "dip.selector" . | nindent 6 }}
  policyTypes: ["Ingress", "Egress"]
{{- end }}
