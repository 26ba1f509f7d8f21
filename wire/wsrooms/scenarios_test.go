package wsrooms_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The scenarios of an unchanged wsrooms.js against roomloop, one test
// each, in the order docs/compat.md lists them.

// Scenario 1: the first frame is root's join_ack; root opens; the id is
// 36 characters.
func TestWsroomsConnectOpensRootWith36CharID(t *testing.T) {
	_, addr := startRooms(t, nil)
	a := dialJS(t, addr) // fails unless the first frame opened root
	root, _ := a.room("root")
	assert.True(t, root.open)
	assert.Len(t, root.id, 36)
	assert.Empty(t, root.members)
}

// Scenario 2: A then B connect: A hears root new_member(B); B's root
// members are [A].
func TestWsroomsSecondClientSeesFirstAndFirstHearsNewMember(t *testing.T) {
	_, addr := startRooms(t, nil)
	a := dialJS(t, addr)
	b := dialJS(t, addr)
	assert.Equal(t, emitted{room: "root", name: "new_member", payload: b.id()}, a.next())
	root, _ := b.room("root")
	assert.Equal(t, []string{a.id()}, root.members)
}

// Scenario 3: both join lobby: both rooms open; A hears lobby
// new_member(B).
func TestWsroomsBothJoinLobbyAndFirstHearsNewMember(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	lobby, _ := b.room("lobby")
	assert.Equal(t, []string{a.id()}, lobby.members)
}

// lobbyPair connects A and B and puts both in lobby, A first.
func lobbyPair(t *testing.T, addr string) (a, b *jsClient) {
	t.Helper()
	a = dialJS(t, addr)
	b = dialJS(t, addr)
	require.Equal(t, "new_member", a.next().name)
	a.join("lobby")
	require.Equal(t, emitted{room: "lobby", name: "open"}, a.next())
	b.join("lobby")
	require.Equal(t, emitted{room: "lobby", name: "open"}, b.next())
	require.Equal(t, emitted{room: "lobby", name: "new_member", payload: b.id()}, a.next())
	return a, b
}

// Scenario 4: B's lobby.send("chat","hi") reaches A with src=B; B hears
// nothing.
func TestWsroomsRoomSendReachesOthersNotSender(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	require.NoError(t, b.send("lobby", "chat", "hi", ""))
	assert.Equal(t, emitted{room: "lobby", name: "chat", payload: "hi", src: b.id()}, a.next())
	assert.Empty(t, b.marker("mark"), "the sender heard its own frame")
}

// Scenario 5: A's root.send("dm","x",B) reaches only B, with src=A.
func TestWsroomsDirectMessageReachesOnlyDst(t *testing.T) {
	_, addr := startRooms(t, nil)
	a := dialJS(t, addr)
	b := dialJS(t, addr)
	c := dialJS(t, addr)
	require.Equal(t, "new_member", a.next().name)
	require.Equal(t, "new_member", a.next().name)
	require.Equal(t, "new_member", b.next().name)
	require.NoError(t, a.send("root", "dm", "x", b.id()))
	assert.Equal(t, emitted{room: "root", name: "dm", payload: "x", src: a.id()}, b.next())
	assert.Empty(t, a.marker("mark"))
	assert.Empty(t, c.marker("mark"))
}

// Scenario 6: B's lobby.leave(): B's lobby closes; A hears
// member_left(B).
func TestWsroomsLeaveClosesRoomAndOthersHearMemberLeft(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	b.leave("lobby")
	assert.Equal(t, emitted{room: "lobby", name: "close"}, b.next())
	_, has := b.room("lobby")
	assert.False(t, has)
	assert.Equal(t, emitted{room: "lobby", name: "member_left", payload: b.id()}, a.next())
}

// Scenario 7: B's process is killed: A hears member_left(B) in root and
// lobby, and only there.
func TestWsroomsKilledClientLeavesEveryRoomItWasIn(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	c := dialJS(t, addr) // in root only
	require.Equal(t, "new_member", a.next().name)
	require.Equal(t, "new_member", b.next().name)
	bid := b.id()
	b.kill()
	got := []emitted{a.next(), a.next()}
	assert.ElementsMatch(t, []emitted{
		{room: "root", name: "member_left", payload: bid},
		{room: "lobby", name: "member_left", payload: bid},
	}, got)
	assert.Equal(t, emitted{room: "root", name: "member_left", payload: bid}, c.next())
	assert.Empty(t, c.marker("mark"), "a room c is not in was flooded")
}

// Scenario 8: a non-ASCII string payload throws in the client; the same
// text as a Uint8Array is delivered intact.
func TestWsroomsNonASCIIStringThrowsUint8ArrayDelivered(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	assert.ErrorIs(t, b.send("lobby", "chat", "héllo", ""), errRangeError)
	require.NoError(t, b.send("lobby", "chat", []byte("héllo"), ""))
	assert.Equal(t, emitted{room: "lobby", name: "chat", payload: "héllo", src: b.id()}, a.next())
}

// src is always the true sender: a forged src is replaced.
func TestWsroomsForgedSrcReplacedByTrueSender(t *testing.T) {
	_, addr := startRooms(t, nil)
	a, b := lobbyPair(t, addr)
	msg, err := encode("lobby", "chat", "", a.id(), "forged")
	require.NoError(t, err)
	b.write(msg)
	assert.Equal(t, emitted{room: "lobby", name: "chat", payload: "forged", src: b.id()}, a.next())
}
