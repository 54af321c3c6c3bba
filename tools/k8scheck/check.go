package k8scheck

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Check returns the problems of objs, each prefixed with its document,
// that the API server (or, for runAsNonRoot, the kubelet) would refuse and
// a typed decode lets through: a name that is not a DNS-1123 subdomain; a
// Job whose pod has no containers, a container without name or image, a
// restartPolicy other than Never or OnFailure, duplicate container or
// volume names, a volume with no source or several, a volumeMount naming
// no declared volume, an invalid environment variable name, a secretKeyRef
// without name or key or naming a key its Secret lacks (when that Secret
// is one of objs), a seccomp or AppArmor profile type that does not exist,
// runAsNonRoot with runAsUser 0; a Secret key that is not a valid key; a
// PersistentVolumeClaim without access modes or storage request.
func Check(objs []Object) []error {
	secrets := map[string]*corev1.Secret{}
	for _, o := range objs {
		if s, ok := o.Value.(*corev1.Secret); ok {
			secrets[s.Name] = s
		}
	}
	var errs []error
	for _, o := range objs {
		var list field.ErrorList
		list = append(list, checkMeta(o.Value.(metav1.Object))...)
		switch v := o.Value.(type) {
		case *batchv1.Job:
			list = append(list, checkPodSpec(field.NewPath("spec", "template", "spec"), &v.Spec.Template.Spec, secrets)...)
		case *corev1.Secret:
			list = append(list, checkSecret(v)...)
		case *corev1.PersistentVolumeClaim:
			list = append(list, checkClaim(&v.Spec)...)
		}
		for _, e := range list {
			errs = append(errs, fmt.Errorf("%s: %w", o, e))
		}
	}
	return errs
}

// checkMeta checks metadata.name (or generateName).
func checkMeta(m metav1.Object) field.ErrorList {
	p := field.NewPath("metadata", "name")
	if m.GetName() == "" {
		if m.GetGenerateName() == "" {
			return field.ErrorList{field.Required(p, "name or generateName is required")}
		}
		return nil
	}
	return invalid(p, m.GetName(), validation.IsDNS1123Subdomain(m.GetName()))
}

// invalid turns the messages of a validation function into errors at p.
func invalid(p *field.Path, value any, msgs []string) field.ErrorList {
	var list field.ErrorList
	for _, m := range msgs {
		list = append(list, field.Invalid(p, value, m))
	}
	return list
}

// checkPodSpec checks a Job's pod template spec at p.
func checkPodSpec(p *field.Path, spec *corev1.PodSpec, secrets map[string]*corev1.Secret) field.ErrorList {
	var list field.ErrorList
	switch spec.RestartPolicy {
	case corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure:
	case "":
		list = append(list, field.Required(p.Child("restartPolicy"), "a Job needs Never or OnFailure"))
	default:
		list = append(list, field.NotSupported(p.Child("restartPolicy"), spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure}))
	}
	volumes := map[string]bool{}
	for i, v := range spec.Volumes {
		vp := p.Child("volumes").Index(i)
		list = append(list, checkVolume(vp, &v)...)
		if volumes[v.Name] {
			list = append(list, field.Duplicate(vp.Child("name"), v.Name))
		}
		volumes[v.Name] = true
	}
	if len(spec.Containers) == 0 {
		list = append(list, field.Required(p.Child("containers"), "a pod needs a container"))
	}
	names := map[string]bool{}
	for _, set := range []struct {
		name string
		cs   []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i := range set.cs {
			c := &set.cs[i]
			cp := p.Child(set.name).Index(i)
			if names[c.Name] {
				list = append(list, field.Duplicate(cp.Child("name"), c.Name))
			}
			names[c.Name] = true
			list = append(list, checkContainer(cp, c, volumes, secrets)...)
			list = append(list, checkRunAs(cp, spec.SecurityContext, c.SecurityContext)...)
		}
	}
	if sc := spec.SecurityContext; sc != nil {
		list = append(list, checkProfiles(p.Child("securityContext"), sc.SeccompProfile, sc.AppArmorProfile)...)
	}
	return list
}

// checkVolume checks a volume's name and that it has exactly one source.
func checkVolume(p *field.Path, v *corev1.Volume) field.ErrorList {
	list := invalid(p.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))
	sources := 0
	rv := reflect.ValueOf(v.VolumeSource)
	for i := range rv.NumField() {
		if !rv.Field(i).IsNil() {
			sources++
		}
	}
	if sources != 1 {
		list = append(list, field.Invalid(p, v.Name, fmt.Sprintf("a volume needs exactly one source (emptyDir, persistentVolumeClaim, secret...), and has %d", sources)))
	}
	if c := v.PersistentVolumeClaim; c != nil && c.ClaimName == "" {
		list = append(list, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
	}
	return list
}

// checkContainer checks one container at p: its name and image, its
// environment and its volume mounts.
func checkContainer(p *field.Path, c *corev1.Container, volumes map[string]bool, secrets map[string]*corev1.Secret) field.ErrorList {
	list := invalid(p.Child("name"), c.Name, validation.IsDNS1123Label(c.Name))
	if strings.TrimSpace(c.Image) == "" {
		list = append(list, field.Required(p.Child("image"), "a container needs an image"))
	}
	for i, e := range c.Env {
		ep := p.Child("env").Index(i)
		list = append(list, invalid(ep.Child("name"), e.Name, validation.IsEnvVarName(e.Name))...)
		if e.Value != "" && e.ValueFrom != nil {
			list = append(list, field.Invalid(ep.Child("valueFrom"), "", "may not be given with a value"))
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			list = append(list, checkSecretRef(ep.Child("valueFrom", "secretKeyRef"), e.ValueFrom.SecretKeyRef, secrets)...)
		}
	}
	mounts := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mp := p.Child("volumeMounts").Index(i)
		if !volumes[m.Name] {
			list = append(list, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			list = append(list, field.Required(mp.Child("mountPath"), ""))
		} else if mounts[m.MountPath] {
			list = append(list, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mounts[m.MountPath] = true
	}
	if sc := c.SecurityContext; sc != nil {
		list = append(list, checkProfiles(p.Child("securityContext"), sc.SeccompProfile, sc.AppArmorProfile)...)
	}
	return list
}

// checkSecretRef checks a secretKeyRef: name and key given, and the key in
// the Secret when the Secret is in the manifest.
func checkSecretRef(p *field.Path, ref *corev1.SecretKeySelector, secrets map[string]*corev1.Secret) field.ErrorList {
	var list field.ErrorList
	if ref.Name == "" {
		list = append(list, field.Required(p.Child("name"), ""))
	}
	if ref.Key == "" {
		return append(list, field.Required(p.Child("key"), ""))
	}
	list = append(list, invalid(p.Child("key"), ref.Key, validation.IsConfigMapKey(ref.Key))...)
	s, ok := secrets[ref.Name]
	if !ok {
		return list
	}
	_, inData := s.Data[ref.Key]
	_, inString := s.StringData[ref.Key]
	if !inData && !inString && (ref.Optional == nil || !*ref.Optional) {
		list = append(list, field.NotFound(p.Child("key"), fmt.Sprintf("%s (Secret %s has no such key)", ref.Key, ref.Name)))
	}
	return list
}

// checkRunAs refuses runAsNonRoot with runAsUser 0, the container's
// settings taking precedence over the pod's, as the kubelet does.
func checkRunAs(p *field.Path, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) field.ErrorList {
	var nonRoot *bool
	var user *int64
	if pod != nil {
		nonRoot, user = pod.RunAsNonRoot, pod.RunAsUser
	}
	if c != nil {
		if c.RunAsNonRoot != nil {
			nonRoot = c.RunAsNonRoot
		}
		if c.RunAsUser != nil {
			user = c.RunAsUser
		}
	}
	if nonRoot != nil && *nonRoot && user != nil && *user == 0 {
		return field.ErrorList{field.Invalid(p.Child("securityContext", "runAsUser"), 0, "runAsNonRoot is true: the kubelet refuses to start it as uid 0")}
	}
	return nil
}

// checkProfiles checks the types of a seccomp and an AppArmor profile and
// that a Localhost one names its profile.
func checkProfiles(p *field.Path, seccomp *corev1.SeccompProfile, apparmor *corev1.AppArmorProfile) field.ErrorList {
	var list field.ErrorList
	if s := seccomp; s != nil {
		sp := p.Child("seccompProfile")
		switch s.Type {
		case corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
		case corev1.SeccompProfileTypeLocalhost:
			if s.LocalhostProfile == nil || *s.LocalhostProfile == "" {
				list = append(list, field.Required(sp.Child("localhostProfile"), "type Localhost needs it"))
			}
		default:
			list = append(list, field.NotSupported(sp.Child("type"), s.Type, []corev1.SeccompProfileType{corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeLocalhost}))
		}
	}
	if a := apparmor; a != nil {
		ap := p.Child("appArmorProfile")
		switch a.Type {
		case corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
		case corev1.AppArmorProfileTypeLocalhost:
			if a.LocalhostProfile == nil || *a.LocalhostProfile == "" {
				list = append(list, field.Required(ap.Child("localhostProfile"), "type Localhost needs it"))
			}
		default:
			list = append(list, field.NotSupported(ap.Child("type"), a.Type, []corev1.AppArmorProfileType{corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined, corev1.AppArmorProfileTypeLocalhost}))
		}
	}
	return list
}

// checkSecret checks the keys of a Secret's data and stringData.
func checkSecret(s *corev1.Secret) field.ErrorList {
	var list field.ErrorList
	for k := range s.Data {
		list = append(list, invalid(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	for k := range s.StringData {
		list = append(list, invalid(field.NewPath("stringData").Key(k), k, validation.IsConfigMapKey(k))...)
	}
	return list
}

// checkClaim checks that a claim has access modes, each a known one, and a
// storage request.
func checkClaim(spec *corev1.PersistentVolumeClaimSpec) field.ErrorList {
	p := field.NewPath("spec")
	var list field.ErrorList
	if len(spec.AccessModes) == 0 {
		list = append(list, field.Required(p.Child("accessModes"), "at least one access mode is required"))
	}
	known := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}
	for i, m := range spec.AccessModes {
		if !slices.Contains(known, m) {
			list = append(list, field.NotSupported(p.Child("accessModes").Index(i), m, known))
		}
	}
	if _, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		list = append(list, field.Required(p.Child("resources", "requests").Key(string(corev1.ResourceStorage)), ""))
	}
	return list
}
