package cluster_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the subset of a compose file the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

// No Docker engine runs in CI: this checks that the cluster compose file
// parses (anchors included) and says what "Running several nodes"
// promises: Redis with AOF fsynced before every acknowledgement, two
// Hermes nodes on one redis:// stream, and nginx in front with a config
// that does not buffer event streams and knows both nodes.
func TestDockerComposeClusterFileDescribesTwoNodesOnOneRedisBehindNginx(t *testing.T) {
	dir := filepath.Join("..", "..", "docker")
	raw, err := os.ReadFile(filepath.Join(dir, "compose.cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("compose.cluster.yaml does not parse: %v", err)
	}
	redis, ok := cf.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	cmd := strings.Join(redis.Command, " ")
	if !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync always") {
		t.Errorf("redis command %q: want AOF with appendfsync always", cmd)
	}
	var transports []string
	for _, name := range []string{"hermes-1", "hermes-2"} {
		s, ok := cf.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		i := slices.Index(s.Command, "--transport")
		if i < 0 || i+1 >= len(s.Command) || !strings.HasPrefix(s.Command[i+1], "redis://redis:6379/") {
			t.Errorf("%s command %q: want --transport redis://redis:6379/...", name, s.Command)
		} else {
			transports = append(transports, s.Command[i+1])
		}
		if s.Environment["HERMES_JWT_KEY"] == "" {
			t.Errorf("%s has no HERMES_JWT_KEY", name)
		}
	}
	if len(transports) == 2 && transports[0] != transports[1] {
		t.Errorf("the nodes use different streams: %q", transports)
	}
	lb, ok := cf.Services["lb"]
	if !ok {
		t.Fatal("no lb service")
	}
	var conf string
	for _, v := range lb.Volumes {
		if src, _, ok := strings.Cut(v, ":"); ok && strings.HasSuffix(src, ".conf") {
			conf = filepath.Join(dir, src)
		}
	}
	if conf == "" {
		t.Fatalf("lb mounts no config file: %q", lb.Volumes)
	}
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("the lb config: %v", err)
	}
	for _, want := range []string{"proxy_buffering off", "server hermes-1:3000", "server hermes-2:3000", "proxy_http_version 1.1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", conf, want)
		}
	}
}
