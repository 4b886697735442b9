using System.Collections.Concurrent;
using System.Text;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Security.Internal;

/// <summary>
/// The process's ZAP handler (ZeroMQ RFC 27): a ROUTER bound at <c>inproc://zeromq.zap.01</c> in the native transport's
/// libzmq context, on a loop thread of its own, which libzmq asks about every CURVE handshake on a listening socket.
/// One per context (libzmq asks one address), so listeners register a ZAP domain each and the handler answers by the
/// domain a request names. A domain nobody registered is denied: no listener is left open by a stale name.
/// </summary>
internal sealed class ZapHandler : ISocketHandler
{
    public const string Address = "inproc://zeromq.zap.01";
    private static readonly Lock StartGate = new();
    private static readonly byte[] Version = "1.0"u8.ToArray();
    private static readonly byte[] Ok = "200"u8.ToArray();
    private static readonly byte[] Denied = "400"u8.ToArray();
    private static readonly byte[] Failed = "500"u8.ToArray();
    private static ZapHandler? _instance;
    private static int _domainCount;
    private readonly ConcurrentDictionary<string, ListenerSecurity> _domains = new(StringComparer.Ordinal);
    private readonly ITransportSocket _socket;
    private readonly ReadOnlyMemory<byte>[] _reply = new ReadOnlyMemory<byte>[8];

    private ZapHandler(ITransport transport)
    {
        var loop = transport.CreateLoop("courier-zap", NullLogger.Instance);
        _socket = loop.CreateSocket(SocketKind.Router, TransportOptions.Default with { HeartbeatInterval = TimeSpan.Zero }, this);
        // Bound before the first CURVE listener is: libzmq admits every client of a domain no handler answers for.
        _socket.Bind(Address);
        loop.Start(TimeSpan.FromSeconds(1), static () => { }, static () => { });
    }

    /// <summary>Registers <paramref name="listener"/> under a new ZAP domain, starting the handler first if need be.</summary>
    public static string Register(ITransport transport, ListenerSecurity listener)
    {
        lock (StartGate)
        {
            _instance ??= new ZapHandler(transport);
        }

        var domain = $"courier-{Environment.ProcessId}-{Interlocked.Increment(ref _domainCount)}";
        _instance._domains[domain] = listener;
        return domain;
    }

    /// <summary>The listener closed: its domain is denied from now on.</summary>
    public static void Unregister(string domain) => _instance?._domains.TryRemove(domain, out _);

    /// <summary>
    /// <c>routing id, "", "1.0", request id, domain, address, identity, mechanism, credentials…</c>; answered
    /// <c>routing id, "", "1.0", request id, status code, status text, user id, metadata</c>.
    /// </summary>
    public bool OnMessage(MessageFrames message)
    {
        if (message.Count < 9 || message.Length(1) != 0 || !message[2].SequenceEqual(Version))
        {
            return true; // not a ZAP 1.0 request: libzmq is the only peer here, so this never happens
        }

        byte[] status = Denied;
        var text = "denied";
        var userId = string.Empty;
        var domain = Encoding.UTF8.GetString(message[4]);
        if (!_domains.TryGetValue(domain, out var listener))
        {
            text = "no such ZAP domain";
        }
        else if (!message[7].SequenceEqual("CURVE"u8) || message.Count < 9 || message.Length(8) != 32)
        {
            // CURVE servers only ever ask about CURVE clients; a domain is never NULL or PLAIN.
            text = "CURVE only";
            listener.Deny(Encoding.UTF8.GetString(message[5]), "not a CURVE handshake");
        }
        else
        {
            var key = Z85.Encode(message[8]);
            try
            {
                if (listener.Admits(key, Encoding.UTF8.GetString(message[5])))
                {
                    status = Ok;
                    text = "OK";
                    userId = key;
                }
            }
#pragma warning disable CA1031 // A failing check denies; the handler keeps answering everyone else.
            catch (Exception)
#pragma warning restore CA1031
            {
                status = Failed;
                text = "internal error";
            }
        }

        _reply[0] = message.ToArray(0);
        _reply[1] = ReadOnlyMemory<byte>.Empty;
        _reply[2] = Version;
        _reply[3] = message.ToArray(3);
        _reply[4] = status;
        _reply[5] = Encoding.UTF8.GetBytes(text);
        _reply[6] = Encoding.UTF8.GetBytes(userId);
        _reply[7] = ReadOnlyMemory<byte>.Empty;
        _ = _socket.TrySend(_reply);
        return true;
    }

    public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
    {
    }
}
