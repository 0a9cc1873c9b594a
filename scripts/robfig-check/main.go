// Prints the schedule times robfig/cron v3 (the CronJob controller's cron library) computes, for comparison
// with src/core/schedule.ts by scripts/robfig-check.ts.
//
// Input, one case a line: zone|schedule|from (RFC 3339)|count. Output, one line a case: the next `count` times
// in RFC 3339 UTC, space-separated, ending in ZERO when robfig found no more; or "ERR <message>".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fields := strings.SplitN(in.Text(), "|", 4)
		if len(fields) != 4 {
			fmt.Fprintln(out, "ERR bad input line")
			continue
		}
		spec := fields[1]
		if fields[0] != "" {
			// How the controller applies spec.timeZone (formatSchedule).
			spec = "TZ=" + fields[0] + " " + spec
		}
		schedule, err := cron.ParseStandard(spec)
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, fields[2])
		if err != nil {
			fmt.Fprintln(out, "ERR bad from:", err)
			continue
		}
		count, _ := strconv.Atoi(fields[3])
		times := make([]string, 0, count+1)
		for i := 0; i < count; i++ {
			t = schedule.Next(t)
			if t.IsZero() {
				times = append(times, "ZERO")
				break
			}
			times = append(times, t.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(out, strings.Join(times, " "))
	}
}
