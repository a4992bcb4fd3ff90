package keystore_test

import (
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// The moto and MLflow servers of the package's tests are started on first use and stopped here.
func TestMain(m *testing.M) { testenv.Main(m) }
