using Courier.Transport.Internal;

namespace Courier.Fuzz;

/// <summary>
/// One engine under fuzzing, fed a script of messages, ticks and disconnects (<see cref="FuzzInput"/>).
/// <see cref="Run(IReadOnlyList{FuzzStep}, bool)"/> throws when the engine does something it must never do: an exception
/// escaping a decoder, or a reply out of proportion to the request (<see cref="AmplificationException"/>).
/// </summary>
internal abstract class EngineTarget : FuzzTarget
{
    // Bytes out may exceed bytes in by this factor, plus a fixed allowance per message for status text and headers.
    public const int AmplificationFactor = 8;
    public const int AllowancePerMessage = 512;

    public override void Run(ReadOnlySpan<byte> data) => Run(FuzzInput.Parse(data), checkAmplification: true);

    /// <summary>Plays <paramref name="steps"/>; with <paramref name="checkAmplification"/>, bytes out are bounded too.</summary>
    public abstract void Run(IReadOnlyList<FuzzStep> steps, bool checkAmplification);

    /// <summary>The routing id a ROUTER gives peer <paramref name="peer"/>.</summary>
    protected static byte[] RoutingId(int peer) => [0, 0x80, 0, 0, (byte)(peer + 1)];

    protected static MessageFrames Frames(byte[]? routingId, byte[][] frames)
    {
        var message = new MessageFrames();
        if (routingId is not null)
        {
            routingId.CopyTo(message.Append(routingId.Length));
        }

        foreach (var frame in frames)
        {
            frame.CopyTo(message.Append(frame.Length));
        }

        return message;
    }

    /// <summary>
    /// Plays <paramref name="steps"/> into a ROUTER's <paramref name="handler"/> (server and broker alike): each message
    /// from its peer's routing id, ticks through <paramref name="onTick"/>, disconnects as the transport reports them,
    /// and after each step what was posted to the loop and the end of its turn. Returns what the peers sent.
    /// </summary>
    protected static (long BytesIn, int MessagesIn) PlayToRouter(
        IReadOnlyList<FuzzStep> steps, MemoryLoop loop, ISocketHandler handler, Action<int> onTick, Action onTurnEnd)
    {
        long bytesIn = 0;
        var messagesIn = 0;
        foreach (var step in steps)
        {
            switch (step.Kind)
            {
                case StepKind.Message:
                    bytesIn += step.Frames.Sum(f => (long)f.Length);
                    messagesIn++;
                    handler.OnMessage(Frames(RoutingId(step.Peer), step.Frames));
                    break;
                case StepKind.Tick:
                    onTick(step.Peer);
                    break;
                case StepKind.Disconnect:
                    handler.OnPeerDisconnected(RoutingId(step.Peer));
                    break;
            }

            loop.RunPosted();
            onTurnEnd();
        }

        return (bytesIn, messagesIn);
    }

    /// <summary>Throws when what the loop sent is out of proportion to what the peers sent it.</summary>
    protected static void CheckAmplification(MemoryLoop loop, long bytesIn, int messagesIn, bool enabled)
    {
        if (!enabled)
        {
            return;
        }

        var allowed = (bytesIn * AmplificationFactor) + ((long)(messagesIn + 1) * AllowancePerMessage);
        if (loop.BytesSent > allowed)
        {
            throw new AmplificationException(
                $"{bytesIn} bytes in {messagesIn} messages made {loop.BytesSent} bytes in {loop.MessagesSent} messages out (allowed {allowed})");
        }
    }
}

/// <summary>A peer made the process send far more than it sent.</summary>
internal sealed class AmplificationException(string message) : Exception(message);
