// Package k8scheck checks strata's Kubernetes and CI examples (docs/ci)
// offline, without a cluster: each Kubernetes document is decoded strictly
// into the typed object of k8s.io/api its apiVersion and kind name, then
// given the checks of a Job, Secret or PersistentVolumeClaim that the API
// server would make and a typed decode cannot. It is not the API server's
// full validation: no admission (Pod Security, quotas, webhooks), no
// defaults, no OpenAPI schema of custom resources. [CheckGitHubWorkflow] and
// [CheckGitLabCI] check the keys of the GitHub Actions and GitLab CI
// examples.
//
// It is a module of its own so that strata's module, and strata's image,
// do not depend on Kubernetes.
package k8scheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded document of a manifest.
type Object struct {
	Doc  int    // the document's number in its file, from 1
	Kind string // apiVersion and kind, "batch/v1 Job"
	Name string // metadata.name
	// Value is the typed object: *batchv1.Job, *corev1.Secret or
	// *corev1.PersistentVolumeClaim.
	Value any
}

// String names the object in messages: "document 3 (batch/v1 Job app)".
func (o Object) String() string {
	return fmt.Sprintf("document %d (%s %s)", o.Doc, o.Kind, o.Name)
}

// newTyped returns a new typed object for apiVersion and kind, or false for
// a kind the checker does not know.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "batch/v1 Job":
		return &batchv1.Job{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	}
	return nil, false
}

// knownKinds lists what newTyped knows, for the error about any other kind.
const knownKinds = "batch/v1 Job, v1 Secret, v1 PersistentVolumeClaim"

// Decode splits a manifest into its YAML documents and decodes each one
// strictly into the typed object its apiVersion and kind name: a duplicate
// key, a field the type lacks (names match case-sensitively, as the API
// server's decoder does), a value of the wrong type or an unknown
// apiVersion and kind is an error. Documents holding only comments are
// skipped.
func Decode(data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading document %d: %w", n, err)
		}
		obj, err := decodeDoc(n, doc)
		if err != nil {
			return nil, err
		}
		if obj != nil {
			objs = append(objs, *obj)
		}
	}
}

// decodeDoc decodes document n, or returns nil for an empty one.
func decodeDoc(n int, doc []byte) (*Object, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("document %d: %w", n, err)
	}
	if t := strings.TrimSpace(string(j)); t == "null" || t == "" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, fmt.Errorf("document %d: reading apiVersion and kind: %w", n, err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("document %d: apiVersion and kind are required", n)
	}
	v, ok := newTyped(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("document %d: unknown apiVersion and kind %q %q: the checker knows %s", n, tm.APIVersion, tm.Kind, knownKinds)
	}
	obj := &Object{Doc: n, Kind: tm.APIVersion + " " + tm.Kind, Value: v}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return nil, fmt.Errorf("document %d (%s): %w", n, obj.Kind, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("document %d (%s): %w", n, obj.Kind, errors.Join(strict...))
	}
	obj.Name = v.(metav1.Object).GetName()
	return obj, nil
}
