package faultproxy_test

import (
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// The package's moto server (testenv.Moto) is started by the first test and stopped here.
func TestMain(m *testing.M) { testenv.Main(m) }
