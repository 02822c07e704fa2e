package dlp

import (
	"reflect"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Scanner {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// found renders findings as detector:value pairs.
func found(text string, fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Detector+":"+text[f.Start:f.End])
	}
	return out
}

func TestScanDetectors(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{})
	tests := []struct {
		desc string
		text string
		want []string // nil: no finding
	}{
		// e-mail
		{"email", "write to jane.doe+x@mail.example.co.uk today", []string{"email:jane.doe+x@mail.example.co.uk"}},
		{"email sentence end", "Mail bob@example.com.", []string{"email:bob@example.com"}},
		{"email no dot", "user@localhost is local", nil},
		{"email handle", "ping @alice on chat", nil},
		{"email one-letter tld", "a@b.c", nil},
		{"email numeric tld", "x@host.123", nil},
		// cards
		{"visa", "card 4111111111111111 ok", []string{"card:4111111111111111"}},
		{"visa spaced", "card 4111 1111 1111 1111.", []string{"card:4111 1111 1111 1111"}},
		{"mastercard dashed", "5555-5555-5555-4444", []string{"card:5555-5555-5555-4444"}},
		{"mastercard 2-series", "2223003122003222", []string{"card:2223003122003222"}},
		{"amex", "378282246310005", []string{"card:378282246310005"}},
		{"discover", "6011111111111117", []string{"card:6011111111111117"}},
		{"jcb", "3530111333300000", []string{"card:3530111333300000"}},
		{"diners", "30569309025904", []string{"card:30569309025904"}},
		{"card fails luhn", "4111111111111112", nil},
		{"card unknown iin", "9111111111111119", nil},
		{"card too long", "41111111111111110000", nil},
		{"card glued to word", "4111111111111111abc", nil},
		{"card in word", "id4111111111111111", nil},
		// IBAN
		{"iban compact", "IBAN DE89370400440532013000 thanks", []string{"iban:DE89370400440532013000"}},
		{"iban grouped", "GB82 WEST 1234 5698 7654 32", []string{"iban:GB82 WEST 1234 5698 7654 32"}},
		{"iban fr", "FR1420041010050500013M02606", []string{"iban:FR1420041010050500013M02606"}},
		{"iban bad checksum", "DE89370400440532013001", nil},
		{"iban wrong length", "DE8937040044053201300", nil},
		{"iban unknown country", "ZZ89370400440532013000", nil},
		// SSN
		{"ssn", "SSN 123-45-6789.", []string{"ssn:123-45-6789"}},
		{"ssn area 000", "000-12-3456", nil},
		{"ssn area 666", "666-12-3456", nil},
		{"ssn area 9xx", "912-34-5678", nil},
		{"ssn group 00", "123-00-4567", nil},
		{"ssn serial 0000", "123-45-0000", nil},
		{"ssn bare digits", "123456789", nil},
		// phone
		{"e164", "call +14155552671 now", []string{"phone:+14155552671"}},
		{"intl spaced", "+44 20 7946 0958", []string{"phone:+44 20 7946 0958"}},
		{"intl paren", "+1 (415) 555-2671", []string{"phone:+1 (415) 555-2671"}},
		{"us dashed", "at 415-555-2671.", []string{"phone:415-555-2671"}},
		{"us paren", "(415) 555-2671", []string{"phone:(415) 555-2671"}},
		{"us dotted", "415.555.2671", []string{"phone:415.555.2671"}},
		{"uk national", "020 7946 0958", []string{"phone:020 7946 0958"}},
		{"fr national", "06 12 34 56 78", []string{"phone:06 12 34 56 78"}},
		{"de national", "030 1234567", []string{"phone:030 1234567"}},
		{"plain long number", "order 41555526719 shipped", nil},
		{"timestamp", "at 1700000000123", nil},
		{"iso date", "on 2024-01-15 we", nil},
		{"slash date", "on 15/01/2024 we", nil},
		{"year list", "in 2019 2020 2021", nil},
		{"year range", "2019-2024", nil},
		{"thousands", "1 234 567 890 people", nil},
		{"prices", "12.50 13.75 14.00 9.99", nil},
		{"isbn", "978-3-16-148410-0", nil},
		{"version", "v1.22.3", nil},
		{"plus arithmetic", "3+4=7", nil},
		// IP
		{"ipv4", "host 192.168.1.20:8080", []string{"ipv4:192.168.1.20"}},
		{"ipv4 out of range", "999.1.1.1", nil},
		{"ipv4 five parts", "1.2.3.4.5", nil},
		{"ipv6", "addr 2001:db8::8a2e:370:7334 up", []string{"ipv6:2001:db8::8a2e:370:7334"}},
		{"ipv6 full", "fe80:0:0:0:202:b3ff:fe1e:8329", []string{"ipv6:fe80:0:0:0:202:b3ff:fe1e:8329"}},
		{"ipv6 loopback", "bind ::1.", []string{"ipv6:::1"}},
		{"clock time", "at 12:30:45 today", nil},
		{"mac address", "00:1a:2b:3c:4d:5e", nil},
		{"cpp scope", "std::vector", nil},
		{"colon prose", "Note: see below", nil},
		// AWS
		{"aws access key", "key AKIAIOSFODNN7EXAMPLE end", []string{"aws_access_key:AKIAIOSFODNN7EXAMPLE"}},
		{"aws session key", "ASIAY34FZKBOKMUTVV7A", []string{"aws_access_key:ASIAY34FZKBOKMUTVV7A"}},
		{"aws key short", "AKIAIOSFODNN7EXAMPL", nil},
		{"aws key lower", "AKIAiosfodnn7example", nil},
		{"aws secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", []string{"aws_secret_key:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"aws secret json", `{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, []string{"aws_secret_key:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}},
		{"aws secret no keyword", "value wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", nil},
		{"aws keyword git sha", "aws commit 3f786850e387550fdab836ed7e6dc881de23001b", nil},
		// PEM
		{"pem", "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\ny", []string{"private_key:-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"}},
		{"pem truncated", "-----BEGIN PRIVATE KEY-----\nMIIEv", []string{"private_key:-----BEGIN PRIVATE KEY-----\nMIIEv"}},
		{"pem certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", nil},
		{"pem public key", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", nil},
		// JWT
		{"jwt", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
			[]string{"jwt:eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}},
		{"jwt alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", []string{"jwt:eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}},
		{"jwt header without alg", "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.abc", nil},
		{"jwt two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", nil},
		// API tokens
		{"openai", "sk-proj-abcdefghijklmnopqrstuvwxyz012345", []string{"openai_key:sk-proj-abcdefghijklmnopqrstuvwxyz012345"}},
		{"anthropic", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz", []string{"anthropic_key:sk-ant-api03-abcdefghijklmnopqrstuvwxyz"}},
		{"openai short", "use sk-learn for that", nil},
		{"github classic", "ghp_0123456789abcdefghijklmnopqrstuvwxyz", []string{"github_token:ghp_0123456789abcdefghijklmnopqrstuvwxyz"}},
		{"github oauth", "gho_0123456789abcdefghijklmnopqrstuvwxyz", []string{"github_token:gho_0123456789abcdefghijklmnopqrstuvwxyz"}},
		{"github fine-grained", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", []string{"github_token:github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"}},
		{"github short", "ghp_0123456789", nil},
		{"slack bot", "xoxb-123456789012-abcdefghij", []string{"slack_token:xoxb-123456789012-abcdefghij"}},
		{"slack other", "xoxz-123456789012-abcdefghij", nil},
		{"stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", []string{"stripe_key:sk_live_4eC39HqLyjWDarjtT1zdp7dc"}},
		{"stripe test", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", nil},
		{"google", "AIzaSyA1234567890abcdefghijklmnopqrstuv", []string{"google_api_key:AIzaSyA1234567890abcdefghijklmnopqrstuv"}},
		{"google short", "AIzaSyA12345", nil},
		// mixed
		{"several", "mail a@b.io, card 4111111111111111, ip 10.0.0.1",
			[]string{"email:a@b.io", "card:4111111111111111", "ipv4:10.0.0.1"}},
		{"prose", "The quick brown fox jumps over the lazy dog; it's 3 o'clock: ok.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := found(tt.text, s.Scan(tt.text))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Scan(%q) = %q; want %q", tt.text, got, tt.want)
			}
		})
	}
}
