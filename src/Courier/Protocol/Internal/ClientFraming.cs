namespace Courier.Protocol.Internal;

/// <summary>How a client's request was framed on the wire, which decides how its reply is framed (docs/protocol.md).</summary>
internal enum ClientFraming
{
    /// <summary>A REQ-style request: <c>"", body…</c>. Served by the default service; the reply is the body alone.</summary>
    Plain,

    /// <summary>A 7/MDP client request: <c>"", "MDPC01", service, body…</c>; the reply echoes header and service.</summary>
    Mdp,

    /// <summary>A Courier request: <c>"", "CURC02" + id + service, body…</c>; the reply is <c>"", "CURC02" + id + status, body…</c>.</summary>
    Courier,

    /// <summary>A record of a Courier batch (§6): replies may go back in a batch for that client.</summary>
    CourierBatch,
}
