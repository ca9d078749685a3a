module github.com/accord-antispam/accord

go 1.26.0

require (
	blitiri.com.ar/go/spf v1.6.0
	github.com/emersion/go-msgauth v0.7.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/net v0.62.0
	golang.org/x/text v0.44.0
)

require golang.org/x/crypto v0.58.0 // indirect
