package config

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Listener keys Synapse knows but Axon does not implement yet.
var listenerUnsupported = []string{"tag", "request_id_header", "additional_resources", "path", "mode", "http_options"}

var listenerKeys = []string{"port", "bind_addresses", "bind_address", "type", "tls", "x_forwarded", "resources"}

// resourceNames are the resource names Synapse accepts; resourceUnsupported
// are the ones Axon does not serve yet.
var (
	resourceNames       = []string{"client", "consent", "federation", "health", "keys", "media", "metrics", "openid", "replication", "static"}
	resourceUnsupported = []string{"replication"}
)

func (l *loader) listeners(e entry, path string) {
	if isNull(e.val) {
		return
	}
	seq := resolve(e.val)
	if seq.Kind != yaml.SequenceNode {
		l.w.errorf(e.val, path, "expected a list of listeners, got %s", kindName(e.val))
		return
	}
	for i, item := range seq.Content {
		if ln, ok := l.listener(item, index(path, i)); ok {
			l.c.Listeners = append(l.c.Listeners, ln)
		}
	}
}

// listener reads one listener; ok is false when it should not be started.
func (l *loader) listener(n *yaml.Node, path string) (Listener, bool) {
	ln := Listener{Line: n.Line}
	if resolve(n).Kind != yaml.MappingNode {
		l.w.errorf(n, path, "expected a listener mapping with port, type and resources, got %s", kindName(n))
		return ln, false
	}
	var typeSeen, portSeen, bindSeen, unixSocket bool
	ok := true
	for _, e := range l.w.entries(n, path) {
		p := child(path, e.key)
		switch e.key {
		case "port":
			portSeen = true
			if port, good := l.w.intRange(e.val, p, "port", 1, 65535); good {
				ln.Port = port
			} else {
				ok = false
			}
		case "bind_addresses", "bind_address":
			// bind_address (one string) is Synapse's older spelling.
			if isNull(e.val) {
				continue
			}
			bindSeen = true
			if e.key == "bind_address" {
				if s, good := l.w.str(e.val, p); good {
					ln.BindAddresses = append(ln.BindAddresses, s)
				}
				continue
			}
			addrs, _ := l.w.stringList(e.val, p)
			ln.BindAddresses = append(ln.BindAddresses, addrs...)
		case "type":
			typeSeen = true
			s, good := l.w.str(e.val, p)
			switch {
			case !good:
				ok = false
			case s == "http" || s == "metrics":
				ln.Type = s
			case s == "manhole":
				l.w.warnf(e.val, p, "not supported yet: manhole listeners; this listener is skipped")
				ok = false
			default:
				l.w.errorf(e.val, p, "expected http or metrics, got %q", s)
				ok = false
			}
		case "tls":
			l.optBool(e, p, &ln.TLS)
		case "x_forwarded":
			l.optBool(e, p, &ln.XForwarded)
		case "resources":
			ln.Resources = l.resources(e.val, p)
		default:
			if slices.Contains(listenerUnsupported, e.key) {
				l.w.notSupported(e, p)
				if e.key == "path" {
					unixSocket = true
				}
				continue
			}
			l.w.unknown(e, p, slices.Concat(listenerKeys, listenerUnsupported))
		}
	}
	if !typeSeen {
		l.w.errorf(n, child(path, "type"), "required setting is missing: http or metrics")
		ok = false
	}
	if !portSeen {
		if unixSocket {
			return ln, false // already warned about path
		}
		l.w.errorf(n, child(path, "port"), "required setting is missing: the TCP port to listen on")
		ok = false
	}
	if !bindSeen {
		ln.BindAddresses = []string{defaultListenerAddressV6, defaultListenerAddressAll}
	}
	if ok && ln.Type == "http" && len(ln.Resources) == 0 {
		l.w.warnf(n, child(path, "resources"), "http listener serves no resources; add e.g. - names: [client, federation]")
	}
	return ln, ok
}

func (l *loader) resources(n *yaml.Node, path string) []Resource {
	if isNull(n) {
		return nil
	}
	seq := resolve(n)
	if seq.Kind != yaml.SequenceNode {
		l.w.errorf(n, path, "expected a list of resources such as - names: [client, federation], got %s", kindName(n))
		return nil
	}
	var out []Resource
	for i, item := range seq.Content {
		p := index(path, i)
		entries, ok := l.w.mapping(item, p)
		if !ok {
			continue
		}
		var r Resource
		for _, e := range entries {
			ep := child(p, e.key)
			switch e.key {
			case "names":
				names, _ := l.w.stringList(e.val, ep)
				list := resolve(e.val)
				for j, name := range names {
					np := index(ep, j)
					switch {
					case !slices.Contains(resourceNames, name):
						l.w.errorf(list.Content[j], np, "unknown resource %q; expected one of %s", name, strings.Join(resourceNames, ", "))
					case slices.Contains(resourceUnsupported, name):
						l.w.warnf(list.Content[j], np, "not supported yet: resource %q is not served", name)
					default:
						r.Names = append(r.Names, name)
					}
				}
			case "compress":
				l.optBool(e, ep, &r.Compress)
			default:
				l.w.unknown(e, ep, []string{"names", "compress"})
			}
		}
		out = append(out, r)
	}
	return out
}
