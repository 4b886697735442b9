using NetMQ;
using NetMQ.Sockets;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>The managed transport: ZeroMQ as implemented in C# by NetMQ.</summary>
internal sealed class NetMqTransport : ITransport
{
    public static NetMqTransport Instance { get; } = new();

    public string Name => "managed";

    /// <summary>Creates a NetMQ socket with every limit in <paramref name="options"/> applied.</summary>
    internal static NetMQSocket CreateSocket(SocketKind kind, TransportOptions options, byte[]? disconnectToken)
    {
        options.Validate();
        if (options.Curve is not null)
        {
            // Never silently plain: the owners refuse earlier (TransportResolver), this is the last line.
            throw new InvalidOperationException(TransportResolver.ManagedRefusesSecurity);
        }

        NetMQSocket socket = kind switch
        {
            SocketKind.Router => new RouterSocket(),
            SocketKind.Dealer => new DealerSocket(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown socket kind."),
        };
        var o = socket.Options;
        o.MaxMsgSize = options.MaxFrameSize;
        o.SendHighWatermark = options.SendHighWatermark;
        o.ReceiveHighWatermark = options.ReceiveHighWatermark;
        o.Linger = options.Linger;
        // As on the native transport (NativeTransport.CreateSocket says why): only connecting sockets send PINGs, without
        // a TTL; a listener answers them and finds dead peers by TCP keepalive. Zero is off.
        var pings = options.Pings(kind);
        o.HeartbeatInterval = pings ? options.HeartbeatInterval : TimeSpan.Zero;
        if (pings)
        {
            o.HeartbeatTimeout = options.HeartbeatTimeout;
        }
        else if (options.HeartbeatsEnabled)
        {
            o.TcpKeepalive = true;
            // NetMQ sets no probe count: the system's (tcp_keepalive_probes, 9 on Linux) is used.
            o.TcpKeepaliveIdle = TimeSpan.FromSeconds(options.KeepaliveIdleSeconds);
            o.TcpKeepaliveInterval = TimeSpan.FromSeconds(options.KeepaliveIntervalSeconds);
        }
        o.ReconnectInterval = options.ReconnectInterval;
        o.ReconnectIntervalMax = options.ReconnectIntervalMax;
        if (kind == SocketKind.Router)
        {
            // A reply that cannot be queued is refused (counted and logged), not dropped silently. NetMQ has no handshake
            // timeout nor connection limit: NetMqListenerGuard (made by the loop) bounds both.
            o.RouterMandatory = true;
        }
        if (disconnectToken is not null)
        {
            o.DisconnectMessage = disconnectToken;
        }

        return socket;
    }

    public ITransportLoop CreateLoop(string name, Microsoft.Extensions.Logging.ILogger logger) => new NetMqLoop(name, logger);
}
