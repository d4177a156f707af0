// The printable version of a page opens the print dialog once it has loaded.
window.addEventListener("load", function () { window.print(); });
