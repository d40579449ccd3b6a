package specconv

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tabox/tabox/libtabox"
)

// The annotations that set judge limits in a bundle.
const (
	AnnotationWallTime = "dev.tabox.wall-time-limit"
	AnnotationCPUTime  = "dev.tabox.cpu-time-limit"
)

// convertLimits reads the judge limits from the annotations.
func convertLimits(ann map[string]string) (libtabox.Limits, error) {
	var l libtabox.Limits
	var err error
	if v, ok := ann[AnnotationWallTime]; ok {
		if l.WallTime, err = ParseDuration(v); err != nil {
			return l, fmt.Errorf("annotation %s: %w", AnnotationWallTime, err)
		}
	}
	if v, ok := ann[AnnotationCPUTime]; ok {
		if l.CPUTime, err = ParseDuration(v); err != nil {
			return l, fmt.Errorf("annotation %s: %w", AnnotationCPUTime, err)
		}
	}
	return l, nil
}

// ParseDuration reads a positive duration: seconds as a decimal ("1.5"),
// or with a unit ("1500ms", "2s", "1m").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%q is not a duration (seconds, or with a unit: 1.5, 1500ms, 2s)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: must be positive", s)
	}
	return d, nil
}
