package serve

// Centrifuge is the comparator built on github.com/centrifugal/centrifuge.
// It is not one of Start's implementations: it is its own binary, in its
// own module (bench/centrifuge), so that the library's go.mod does not
// grow. That binary speaks the child protocol through RunServer.
const Centrifuge = "centrifuge"
