package serve

// Centrifuge is the comparator built on github.com/centrifugal/centrifuge.
// It is not one of Start's implementations: it is its own binary, in its
// own module (bench/centrifuge), so that the library's go.mod does not
// grow. That binary speaks the child protocol through RunServer.
const Centrifuge = "centrifuge"

// Floor is the floor for memory per idle connection: a minimal server on
// nbio's event loop (bench/floor), started by Start like roomloop and the
// baseline. It runs without roomloop's memory release (memrelease), as
// such a server is written.
const Floor = "nbio-floor"
