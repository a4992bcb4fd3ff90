package uisession_test

import (
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// The moto server of the package's tests is started on first use and stopped here.
func TestMain(m *testing.M) { testenv.Main(m) }
