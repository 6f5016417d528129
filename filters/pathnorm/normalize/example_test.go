package normalize_test

import (
	"fmt"

	"github.com/meshsecops/filters/filters/pathnorm/normalize"
)

func ExampleNormalize() {
	for _, path := range []string{"/api/v1/users", "/a//b/%2e%2e/c?x=%2e", "/admin%2fsecret"} {
		r := normalize.Normalize(path, nil)
		fmt.Printf("%s -> %s %q [%s]\n", path, r.Verdict, r.Path, r.Findings)
	}
	// Output:
	// /api/v1/users -> forward "/api/v1/users" []
	// /a//b/%2e%2e/c?x=%2e -> forward "/a/c?x=%2e" [dot_segment,merge_slash,encoded_unreserved]
	// /admin%2fsecret -> reject "" [encoded_slash,escape_case]
}

func ExampleParseConfig() {
	cfg, err := normalize.ParseConfig([]byte(`{
		"profile": "envoy",
		"actions": {"dot_segment": "redirect"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := normalize.Normalize("/a//../b?page=2", &cfg.Policy)
	fmt.Println(r.Verdict, r.Status, r.Path)

	_, err = normalize.ParseConfig([]byte(`{"actions": {"fragment": "drop"}}`))
	fmt.Println(err)
	// Output:
	// redirect 307 /a/b?page=2
	// actions.fragment: unknown action "drop" (want normalize, reject, redirect or audit)
}
