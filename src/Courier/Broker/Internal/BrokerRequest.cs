using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>
/// A client request held by the broker from arrival until its reply (or error) is sent: the decoded request and what the
/// broker adds (its token, its service, the workers that died holding it). Reused once finished, with its
/// <see cref="InboundRequest"/>, so the forwarding path allocates none per request.
/// </summary>
internal sealed class BrokerRequest
{
    public ulong Token { get; private set; }

    /// <summary>Token as the 8-byte frame plain 7/MDP workers see as the "client address" and echo back; made when sent.</summary>
    public byte[] TokenFrame => TokenBytes(Token);

    public InboundRequest Inbound { get; private set; } = null!;

    /// <summary>The client's routing id.</summary>
    public byte[] ClientId => Inbound.Route.ClientId;

    public BrokerService Service { get; private set; } = null!;

    /// <summary>Stopwatch timestamp of its arrival, when measured (a listener, or someone watching <c>mmi.stats</c>); else 0.</summary>
    public long ArrivedAt { get; set; }

    /// <summary>Stopwatch timestamp of its (latest) entry into the queue, when measured; else 0.</summary>
    public long QueuedAt { get; set; }

    /// <summary>Its span in the broker, when a listener samples one.</summary>
    public System.Diagnostics.Activity? Activity { get; set; }

    /// <summary>Workers that died while holding this request.</summary>
    public int Deaths { get; set; }

    /// <summary>The queue it waits in, and its neighbours there (<see cref="RequestQueue"/>).</summary>
    internal RequestQueue? Queue { get; set; }

    internal BrokerRequest? QueuePrevious { get; set; }

    internal BrokerRequest? QueueNext { get; set; }

    public BrokerRequest Set(ulong token, InboundRequest inbound, BrokerService service)
    {
        Token = token;
        Inbound = inbound;
        Service = service;
        return this;
    }

    /// <summary>Forgets everything; its <see cref="Inbound"/> went back to the front end.</summary>
    public void Clear()
    {
        Token = 0;
        Inbound = null!;
        Service = null!;
        Deaths = 0;
        ArrivedAt = 0;
        QueuedAt = 0;
        Activity = null;
    }

    public static byte[] TokenBytes(ulong token)
    {
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, token);
        return bytes;
    }
}
