// Package envoy holds static Envoy configurations that load the filters from
// local files, one per filter and one for the whole chain. It has no code: its
// tests decode each file into go-control-plane's Bootstrap, run the generated
// validation and the project's lint, and feed each filter configuration to the
// filter's own parser. See README.md.
package envoy
