namespace Courier.Protocol.Internal;

/// <summary>How a request reached a server, which decides the shape of its reply.</summary>
internal enum RequestKind
{
    /// <summary>A REQ-style request: <c>"", body…</c>. Served by the default service; the reply is the body alone.</summary>
    Plain,

    /// <summary>A 7/MDP client request: <c>"", "MDPC01", service, body…</c>.</summary>
    Mdp,

    /// <summary>A Courier request: <c>"", "CURC02" + id + service, body…</c>; the reply is <c>"", "CURC02" + id + status, body…</c>.</summary>
    Courier,
}
