package loop

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio/logging"
)

// nbio logs through one process-wide logger. roomloop replaces it, once,
// with nbioLogs, which hands each line to the Config.Logger of the engine
// the line names (every nbio engine is named "roomloop-N", and nbio puts
// the name in its lines), and lines that name none to slog.Default. nbio's
// start and stop notices are logged at debug level; its errors at error
// level.
var (
	nbioLogsOnce sync.Once
	nbioEngines  sync.Map // nbio engine name -> *slog.Logger
	nbioNames    atomic.Uint64
)

// nbioName registers log under a new nbio engine name and returns it.
func nbioName(log *slog.Logger) string {
	nbioLogsOnce.Do(func() { logging.SetLogger(nbioLogs{}) })
	name := fmt.Sprintf("roomloop-%d", nbioNames.Add(1))
	nbioEngines.Store(name, log)
	return name
}

// forgetNBIOName drops a stopped engine's name.
func forgetNBIOName(name string) { nbioEngines.Delete(name) }

// nbioLogs implements nbio's logging.Logger.
type nbioLogs struct{}

var nbioNameInLine = regexp.MustCompile(`\[(roomloop-\d+)\]`)

func (nbioLogs) log(level slog.Level, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	log := slog.Default()
	if m := nbioNameInLine.FindStringSubmatch(msg); m != nil {
		if l, ok := nbioEngines.Load(m[1]); ok {
			log = l.(*slog.Logger)
		}
	}
	log.Log(context.Background(), level, "nbio: "+msg)
}

func (n nbioLogs) Debug(format string, v ...any) { n.log(slog.LevelDebug, format, v...) }
func (n nbioLogs) Info(format string, v ...any)  { n.log(slog.LevelDebug, format, v...) }
func (n nbioLogs) Warn(format string, v ...any)  { n.log(slog.LevelWarn, format, v...) }
func (n nbioLogs) Error(format string, v ...any) { n.log(slog.LevelError, format, v...) }
