using NetMQ;

namespace Courier.Transport.Internal.NetMQ;

/// <summary>
/// A NetMQ socket. Dropped peers arrive from NetMQ as <c>[routing id, token]</c> messages (its DisconnectMessage option):
/// the token (<see cref="DisconnectNotice"/>) ends in 16 random bytes of this socket's own, so no peer can forge one.
/// </summary>
internal sealed class NetMqSocket(NetMQSocket socket, byte[]? disconnectToken, ISocketHandler handler, Action<NetMqSocket> onDispose)
    : ITransportSocket, IPumpedSocket
{
    private bool _disposed;

    internal NetMQSocket Socket { get; } = socket;

    internal ISocketHandler Handler { get; } = handler;

    /// <summary>The bound on a received message's frames (<see cref="TransportOptions.MaxFramesPerMessage"/>).</summary>
    internal required FrameLimit Frames { get; init; }

    /// <summary>A listener's bounds on its connections (ROUTERs only), disposed with the socket.</summary>
    internal NetMqListenerGuard? Guard { get; init; }

    public bool IsClosed => _disposed;

    public string Bind(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        var colon = endpoint.LastIndexOf(':');
        var port = colon > 0 ? endpoint[(colon + 1)..] : "";
        if (endpoint.StartsWith("tcp://", StringComparison.Ordinal) && (port == "*" || port == "0"))
        {
            var hostPart = endpoint[..colon];
            var chosen = Socket.BindRandomPort(hostPart);
            return Bound($"{hostPart}:{chosen}");
        }

        Socket.Bind(endpoint);
        return Bound(endpoint);
    }

    private string Bound(string endpoint)
    {
        if (Guard is not null)
        {
            Guard.Endpoint = Guard.Endpoint.Length == 0 ? endpoint : Guard.Endpoint + ", " + endpoint;
        }

        return endpoint;
    }

    public void Connect(string endpoint)
    {
        try
        {
            Socket.Connect(endpoint);
        }
        catch (EndpointNotFoundException ex) when (endpoint.StartsWith("inproc://", StringComparison.Ordinal))
        {
            // libzmq takes an inproc connect before the bind and queues what is sent meanwhile; NetMQ refuses it, with
            // a message that says nothing: say what happened and what to do.
            throw new InvalidOperationException(
                $"nothing is bound to {endpoint} yet, and on the managed transport (NetMQ) an inproc endpoint must be bound before anything connects to it", ex);
        }
    }

    /// <summary>Whose socket it is (<c>courier.role</c>), for the byte counters.</summary>
    public string Role { get; set; } = Diagnostics.Internal.TelemetryRole.Client;

    /// <summary>
    /// The count of each peer's unwritten bytes: a listener's bounded by <see cref="TransportOptions.MaxPendingBytesPerPeer"/>,
    /// a connecting socket's only watched (a graceful stop waits for it); null where not counted.
    /// </summary>
    internal NetMqPeerBacklog? Backlog { get; init; }

    public SendRefusal LastRefusal { get; private set; }

    public long LargestPendingBytes => Backlog?.LargestPending() ?? 0;

    public bool TrySend(ReadOnlySpan<ReadOnlyMemory<byte>> frames)
    {
        if (frames.Length == 0)
        {
            return true;
        }

        // A message whose last frame is empty has no pooled buffer to hear back from: the high-water mark alone bounds it.
        if (Backlog is { } backlog && frames.Length > 1 && !frames[^1].IsEmpty && PendingBytes.Counts(frames, out var total))
        {
            if (!backlog.TrySend(Socket, frames, total))
            {
                LastRefusal = backlog.LastRefusal;
                return false;
            }

            TransportTelemetry.Sent(frames, Role);
            return true;
        }

        for (var i = 0; i < frames.Length; i++)
        {
            // ZeroMQ queues a multipart message atomically: only the first frame can be refused.
            if ((LastRefusal = SendFrame(Socket, frames[i].Span, more: i < frames.Length - 1)) != SendRefusal.None)
            {
                return false;
            }
        }

        TransportTelemetry.Sent(frames, Role);
        return true;
    }

    /// <summary>One frame, copied into a message of NetMQ's pool; <see cref="SendRefusal.None"/> when NetMQ took it, else why it did not.</summary>
    internal static SendRefusal SendFrame(NetMQSocket socket, ReadOnlySpan<byte> data, bool more)
    {
        var msg = default(Msg);
        if (data.IsEmpty)
        {
            msg.InitEmpty();
        }
        else
        {
            msg.InitPool(data.Length);
            data.CopyTo(msg);
        }

        return Send(socket, ref msg, more);
    }

    /// <summary>Sends <paramref name="msg"/>, which is closed here if NetMQ did not take it; <see cref="SendRefusal.None"/> when NetMQ took it.</summary>
    internal static SendRefusal Send(NetMQSocket socket, ref Msg msg, bool more)
    {
        try
        {
            return socket.TrySend(ref msg, TimeSpan.Zero, more) ? SendRefusal.None : SendRefusal.QueueFull;
        }
        catch (HostUnreachableException)
        {
            return SendRefusal.PeerGone; // ROUTER_MANDATORY: no such peer (any more)
        }
        finally
        {
            msg.Close();
        }
    }

    public Received TryReceive(MessageFrames message)
    {
        var received = ReceiveOne(message);
        if (received == Received.PeerGone)
        {
            Backlog?.Forget(message[0]);
        }

        return received;
    }

    private Received ReceiveOne(MessageFrames message)
    {
        message.Clear();
        var msg = default(Msg);
        msg.InitEmpty();
        try
        {
            if (!Socket.TryReceive(ref msg, TimeSpan.Zero))
            {
                return Received.Nothing;
            }

            try
            {
                message.Append(msg.Slice());
                while (msg.HasMore)
                {
                    if (Frames.Exceeded(message.Count))
                    {
                        Drop(message, ref msg);
                        return Received.Dropped;
                    }

                    // The rest of a multipart message has already arrived with its first frame.
                    Socket.TryReceive(ref msg, TimeSpan.FromSeconds(1));
                    message.Append(msg.Slice());
                }
            }
            catch
            {
                // Whatever failed (no memory for a huge message, say), the rest of this message is read and dropped here:
                // read later, its next frame would pass for a routing id the sender chose.
                while (msg.HasMore && Socket.TryReceive(ref msg, TimeSpan.FromSeconds(1)))
                {
                }

                message.Clear();
                throw;
            }

            return disconnectToken is not null && message.Count == 2 && message[1].SequenceEqual(disconnectToken)
                ? Received.PeerGone
                : Received.Message;
        }
        finally
        {
            msg.Close();
        }
    }

    /// <summary>A message past <see cref="Frames"/>' limit: the rest is read and let go frame by frame, nothing kept.</summary>
    private void Drop(MessageFrames message, ref Msg msg)
    {
        var frames = message.Count;
        message.Clear();
        while (msg.HasMore && Socket.TryReceive(ref msg, TimeSpan.FromSeconds(1)))
        {
            frames++;
        }

        Frames.Dropped(frames, Role);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        onDispose(this);
        // The listener first: its last monitor events go to a PAIR still open.
        Socket.Dispose();
        Guard?.Dispose();
        Backlog?.Dispose();
    }
}
