package objstore

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is how an S3 store reaches its server. Build it with ParseConfig
// from storage options in pylance's vocabulary (the keys of object_store's
// AmazonS3ConfigKey and Lance's client options), so one dict opens a
// dataset here and in lance.dataset(uri, storage_options=...).
type Config struct {
	Endpoint        string // "" = AWS: https://s3.{region}.amazonaws.com
	Region          string // default "us-east-1"
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	AllowHTTP       bool
	// VirtualHosted addresses "bucket.host" instead of "host/bucket";
	// default: on for AWS, off with an explicit endpoint (as object_store).
	VirtualHosted *bool
	// Timeout bounds one request (default 30s); ConnectTimeout the
	// connection (default 5s).
	Timeout        time.Duration
	ConnectTimeout time.Duration
	// MaxRetries is how often a retryable failure is retried (default 10,
	// object_store's default); RetryTimeout bounds the whole retrying
	// (default 3 minutes).
	MaxRetries   int
	RetryTimeout time.Duration
}

// configKeys maps every accepted option name (lower case) to the setting it
// fills. The aliases are those object_store accepts.
var configKeys = map[string]string{
	"aws_endpoint": "endpoint", "aws_endpoint_url": "endpoint", "endpoint": "endpoint", "endpoint_url": "endpoint",
	"aws_region": "region", "region": "region", "aws_default_region": "region",
	"aws_access_key_id": "key", "access_key_id": "key",
	"aws_secret_access_key": "secret", "secret_access_key": "secret",
	"aws_session_token": "token", "session_token": "token", "aws_token": "token", "token": "token",
	"allow_http": "allow_http", "aws_allow_http": "allow_http",
	"aws_virtual_hosted_style_request": "virtual_hosted", "virtual_hosted_style_request": "virtual_hosted",
	"timeout": "timeout", "connect_timeout": "connect_timeout",
	"client_max_retries": "max_retries", "client_retry_timeout": "retry_timeout",
}

// ParseConfig reads storage options (keys case-insensitive) on top of the
// AWS_* environment variables (AWS_ENDPOINT_URL, AWS_REGION,
// AWS_ACCESS_KEY_ID, ...: the option name in upper case), options winning.
// An option it does not know is an error naming it: silently ignoring, say,
// an encryption setting pylance would honour is worse than refusing.
func ParseConfig(options map[string]string) (Config, error) {
	set := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "AWS_") {
			continue
		}
		if what, ok := configKeys[strings.ToLower(k)]; ok && v != "" {
			set[what] = v
		}
	}
	var unknown []string
	for k, v := range options {
		what, ok := configKeys[strings.ToLower(k)]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		set[what] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(configKeys))
		for k := range configKeys {
			if strings.HasPrefix(k, "aws_") || k == "allow_http" || strings.HasPrefix(k, "client_") || strings.HasSuffix(k, "timeout") {
				known = append(known, k)
			}
		}
		sort.Strings(known)
		return Config{}, fmt.Errorf("unknown storage option(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	c := Config{
		Endpoint: strings.TrimRight(set["endpoint"], "/"), Region: set["region"],
		AccessKeyID: set["key"], SecretAccessKey: set["secret"], SessionToken: set["token"],
		Timeout: 30 * time.Second, ConnectTimeout: 5 * time.Second,
		MaxRetries: 10, RetryTimeout: 3 * time.Minute,
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	var err error
	parseBool := func(name, v string) (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("storage option %s: want true or false, got %q", name, v)
		}
		return b, nil
	}
	if v, ok := set["allow_http"]; ok {
		if c.AllowHTTP, err = parseBool("allow_http", v); err != nil {
			return Config{}, err
		}
	}
	if v, ok := set["virtual_hosted"]; ok {
		b, err := parseBool("aws_virtual_hosted_style_request", v)
		if err != nil {
			return Config{}, err
		}
		c.VirtualHosted = &b
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"timeout", &c.Timeout}, {"connect_timeout", &c.ConnectTimeout}, {"retry_timeout", &c.RetryTimeout}} {
		if v, ok := set[d.name]; ok {
			if *d.dst, err = parseDuration(v); err != nil {
				return Config{}, fmt.Errorf("storage option %s: %v", d.name, err)
			}
		}
	}
	if v, ok := set["max_retries"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Config{}, fmt.Errorf("storage option client_max_retries: want a non-negative integer, got %q", v)
		}
		c.MaxRetries = n
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return Config{}, fmt.Errorf("storage option aws_endpoint: want http(s)://host[:port], got %q", c.Endpoint)
		}
		if u.Scheme == "http" && !c.AllowHTTP {
			return Config{}, fmt.Errorf("storage option aws_endpoint %s is plain http: set allow_http to \"true\" to use it", c.Endpoint)
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return Config{}, fmt.Errorf("storage options: aws_access_key_id and aws_secret_access_key go together")
	}
	return c, nil
}

// parseDuration accepts Go durations ("30s") and humantime-like plain
// seconds ("30").
func parseDuration(v string) (time.Duration, error) {
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration like \"30s\", got %q", v)
	}
	return d, nil
}

// baseURL returns the URL of bucket and whether keys follow the bucket in
// the path (path style).
func (c Config) baseURL(bucket string) (*url.URL, bool) {
	virtual := c.Endpoint == ""
	if c.VirtualHosted != nil {
		virtual = *c.VirtualHosted
	}
	ep := c.Endpoint
	if ep == "" {
		ep = "https://s3." + c.Region + ".amazonaws.com"
	}
	u, _ := url.Parse(ep)
	if virtual {
		// pylance (object_store) takes an explicit endpoint as the bucket's
		// own URL in this style (https://bucket.host): use it as given when
		// its host already starts with the bucket, else prepend the bucket.
		if c.Endpoint == "" || !strings.HasPrefix(strings.ToLower(u.Host), strings.ToLower(bucket)+".") {
			u.Host = bucket + "." + u.Host
		}
		return u, false
	}
	return u, true
}
