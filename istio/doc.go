// Package istio holds the Istio resources that deploy the filters (WasmPlugin)
// and the mesh policies they assume (PeerAuthentication, AuthorizationPolicy).
// It has no code: its tests decode every YAML file here into Istio's typed
// objects, run the project's lint over them and feed each plugin
// configuration to the filter's own parser. See README.md.
package istio
