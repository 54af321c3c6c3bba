package k8scheck

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// jobManifest is the manifest the broken copies below start from.
const jobManifest = "../../docs/ci/kubernetes-job.yaml"

// manifests returns docs/ci/kubernetes*.yaml; there must be one.
func manifests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../docs/ci/kubernetes*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(files, jobManifest) {
		t.Fatalf("globbing docs/ci/kubernetes*.yaml: got %v, want %s among them", files, jobManifest)
	}
	return files
}

// decodeAndCheck runs Decode then Check, joining the errors.
func decodeAndCheck(data []byte) ([]Object, error) {
	objs, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return objs, errors.Join(Check(objs)...)
}

func TestManifestsValid(t *testing.T) {
	for _, f := range manifests(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeAndCheck(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no Kubernetes object in the file")
			}
		})
	}
}

// TestJobVariants wants the two variants docs/unprivileged.md describes,
// running the same command: unprivileged (root, the runtime's default
// seccomp profile, no privilege, no added capability) and rootless
// (runAsNonRoot, a uid other than 0, seccomp and AppArmor Unconfined).
func TestJobVariants(t *testing.T) {
	data, err := os.ReadFile(jobManifest)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]*corev1.PodSpec{}
	for _, o := range objs {
		if j, ok := o.Value.(*batchv1.Job); ok {
			jobs[j.Name] = &j.Spec.Template.Spec
		}
	}
	unpriv, rootless := jobs["strata-build-unprivileged"], jobs["strata-build-rootless"]
	if unpriv == nil || rootless == nil {
		t.Fatalf("got Jobs %v, want strata-build-unprivileged and strata-build-rootless", slices.Sorted(maps.Keys(jobs)))
	}
	u, r := strataContainer(t, unpriv), strataContainer(t, rootless)
	if got, want := strings.Join(append(r.Command, r.Args...), " "), strings.Join(append(u.Command, u.Args...), " "); got != want {
		t.Errorf("rootless command: got %q, want the unprivileged one, %q", got, want)
	}
	us := u.SecurityContext
	if us == nil || us.RunAsUser == nil || *us.RunAsUser != 0 || us.SeccompProfile == nil || us.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault ||
		(us.Privileged != nil && *us.Privileged) || (us.Capabilities != nil && len(us.Capabilities.Add) > 0) {
		t.Errorf("unprivileged securityContext: got %+v, want runAsUser 0, seccomp RuntimeDefault, not privileged, no added capabilities", us)
	}
	pod, rs := rootless.SecurityContext, r.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser == 0 {
		t.Errorf("rootless pod securityContext: got %+v, want runAsNonRoot and a runAsUser other than 0", pod)
	}
	if rs == nil || rs.SeccompProfile == nil || rs.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined ||
		rs.AppArmorProfile == nil || rs.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined ||
		(rs.Privileged != nil && *rs.Privileged) || (rs.Capabilities != nil && len(rs.Capabilities.Add) > 0) {
		t.Errorf("rootless securityContext: got %+v, want seccomp and AppArmor Unconfined, not privileged, no added capabilities", rs)
	}
}

// strataContainer returns the pod's container named strata.
func strataContainer(t *testing.T, spec *corev1.PodSpec) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == "strata" {
			return &spec.Containers[i]
		}
	}
	t.Fatal("no container named strata")
	return nil
}

// TestBrokenManifestsFail breaks a copy of the manifest in one place each and
// wants the error to name the problem.
func TestBrokenManifestsFail(t *testing.T) {
	data, err := os.ReadFile(jobManifest)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(data)
	for _, tc := range []struct {
		name, old, new string
		want           string // in the error
	}{
		{"misspelled field", "      restartPolicy: Never\n", "      restartPolicyy: Never\n", `unknown field "spec.template.spec.restartPolicyy"`},
		{"field of the wrong case", "      restartPolicy: Never\n", "      RestartPolicy: Never\n", `unknown field "spec.template.spec.RestartPolicy"`},
		{"wrong type", "  backoffLimit: 0\n", "  backoffLimit: none\n", "cannot unmarshal string into Go struct field JobSpec.spec.backoffLimit of type int32"},
		{"list for a map", "          emptyDir: {}\n", "          emptyDir: []\n", "cannot unmarshal array"},
		{"duplicate key", "  backoffLimit: 0\n", "  backoffLimit: 0\n  backoffLimit: 1\n", `key "backoffLimit" already set`},
		{"wrong apiVersion", "apiVersion: batch/v1\n", "apiVersion: batch/v1beta1\n", `unknown apiVersion and kind "batch/v1beta1" "Job"`},
		{"unknown kind", "kind: PersistentVolumeClaim\n", "kind: PersistentVolume\n", `unknown apiVersion and kind "v1" "PersistentVolume"`},
		{"missing kind", "kind: Secret\n", "", "apiVersion and kind are required"},
		{"missing image", "          image: registry.example.com/tools/strata:dev\n", "", "spec.template.spec.containers[0].image: Required value"},
		{"empty containers", "      containers:\n        - name: strata\n          image: registry.example.com/tools/strata:dev\n", "      containers: []\n      ephemeralContainers:\n        - name: strata\n          image: registry.example.com/tools/strata:dev\n", "spec.template.spec.containers: Required value"},
		{"missing container name", "        - name: strata\n          image: registry.example.com/tools/strata:dev\n", "        - image: registry.example.com/tools/strata:dev\n", `spec.template.spec.containers[0].name: Invalid value: ""`},
		{"restartPolicy Always", "      restartPolicy: Never\n", "      restartPolicy: Always\n", `spec.template.spec.restartPolicy: Unsupported value: "Always"`},
		{"undeclared volume", "            - name: store\n              mountPath: /var/lib/strata\n", "            - name: stor\n              mountPath: /var/lib/strata\n", `volumeMounts[1].name: Not found: "stor"`},
		{"volume without source", "        - name: home\n          emptyDir: {}\n", "        - name: home\n", "a volume needs exactly one source"},
		{"duplicate volume", "\n        - name: home\n          emptyDir", "\n        - name: workspace\n          emptyDir", `spec.template.spec.volumes[1].name: Duplicate value: "workspace"`},
		{"bad env name", "            - name: BUILD_TAG\n", "            - name: BUILD TAG\n", `env[0].name: Invalid value: "BUILD TAG"`},
		{"secret key missing", "                  key: password\n", "                  key: passwd\n", "Secret registry-credentials has no such key"},
		{"runAsNonRoot as root", "        runAsUser: 1000\n", "        runAsUser: 0\n", "runAsNonRoot is true: the kubelet refuses"},
		{"seccomp type", "              type: Unconfined\n", "              type: unconfined\n", `seccompProfile.type: Unsupported value: "unconfined"`},
		{"claim without storage", "      storage: 20Gi\n", "      cpu: \"1\"\n", "spec.resources.requests[storage]: Required value"},
		{"bad name", "  name: strata-build-rootless\n", "  name: Strata_Build\n", `metadata.name: Invalid value: "Strata_Build"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(orig, tc.old, tc.new, 1)
			if broken == orig {
				t.Fatalf("%s no longer holds %q: update the test", jobManifest, tc.old)
			}
			_, err := decodeAndCheck([]byte(broken))
			if err == nil {
				t.Fatalf("got no error, want one with %q", tc.want)
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got error %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
