namespace Courier.Transport.Internal;

/// <summary>What one receive attempt found.</summary>
internal enum Received
{
    Nothing,
    Message,

    /// <summary>A peer's connection dropped; the message's first frame is its routing id.</summary>
    PeerGone,

    /// <summary>A message the transport read and dropped whole (more frames than it may have): nothing to handle.</summary>
    Dropped,
}

/// <summary>A socket as its loop reads it.</summary>
internal interface IPumpedSocket
{
    Received TryReceive(MessageFrames message);

    bool IsClosed { get; }
}

/// <summary>How every loop reads a readable socket, in one place.</summary>
internal static class SocketPump
{
    /// <summary>Messages read from one socket per turn: a flood from one peer must not starve the rest of the loop.</summary>
    public const int MaxPerTurn = 1024;

    public static void Drain(IPumpedSocket socket, ISocketHandler handler, MessageFrames message, Action? onTurnEnd, Microsoft.Extensions.Logging.ILogger logger, string loop)
    {
        for (var i = 0; i < MaxPerTurn; i++)
        {
            bool more;
            try
            {
                // Inside the guard too: a message that cannot be received (too large to hold) is dropped whole by the
                // socket, and the loop goes on.
                var received = socket.TryReceive(message);
                if (received == Received.Nothing)
                {
                    return;
                }

                if (received == Received.Dropped)
                {
                    continue;
                }

                if (received == Received.Message && DisconnectNotice.IsStray(message))
                {
                    continue; // a closing managed ROUTER's farewell: transport noise, not a message of its peer
                }

                if (received == Received.PeerGone)
                {
                    handler.OnPeerDisconnected(message[0]);
                    if (socket.IsClosed)
                    {
                        return;
                    }

                    continue;
                }

                TransportTelemetry.Received(message, loop);
                more = handler.OnMessage(message);
            }
#pragma warning disable CA1031 // One message that makes its handler throw must not end the loop, or the process.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LoopGuard.Report(ex, logger, loop);
                more = true;
            }

            if (socket.IsClosed)
            {
                return; // its handler closed it (a reconnect)
            }

            if (i == 0 && handler.EndTurnAfterFirstMessage)
            {
                // A lone message, as when traffic is light, is answered before asking the transport for more (a system
                // call that would also unsettle the socket after this send); the rest of a busy turn still shares a batch.
                if (onTurnEnd is not null)
                {
                    LoopGuard.Run(onTurnEnd, logger, loop);
                }
            }

            if (!more)
            {
                return;
            }
        }
    }
}
