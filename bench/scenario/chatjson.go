package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// chatWords are the words of the chat messages' text.
var chatWords = strings.Fields("the a to and of in is you that it for on with this be are have not at your we can " +
	"meeting tomorrow deploy release server client room message thanks please check review build " +
	"latency numbers looks good merge branch issue fixed broken working lunch coffee weekend")

// chatMessages returns n chat messages for room, as a client sends them,
// each split around where its number and send time go: a message is
// head + k + `,"t":` + unix nanoseconds + tail. Whole messages are
// between 200 B and 1 KB of JSON (uniformly spread, the number and time
// taking about 30 B): a user, a timestamp, a text of English words, a
// null reply and an empty list of reactions. The sequence is the same
// on every call.
func chatMessages(room string, n int) (head string, tails []string) {
	r := rand.New(rand.NewPCG(1, 2))
	head = `{"event":"say","room":"` + room + `","payload":{"k":`
	tails = make([]string, n)
	for i := range tails {
		size := 200 + r.IntN(801)
		user := fmt.Sprintf("user-%04d", r.IntN(5000))
		ts := strconv.FormatInt(1733350000000+int64(i)*997, 10)
		pre := `,"user":"` + user + `","ts":` + ts + `,"text":`
		post := `,"reply_to":null,"reactions":[]}}`
		var text strings.Builder
		for len(head)+30+len(pre)+text.Len()+2+len(post) < size {
			text.WriteString(chatWords[r.IntN(len(chatWords))])
			text.WriteByte(' ')
		}
		quoted, _ := json.Marshal(text.String())
		tails[i] = pre + string(quoted) + post
	}
	return head, tails
}
