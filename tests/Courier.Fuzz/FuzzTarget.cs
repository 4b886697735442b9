using Courier.Transport.Internal;

namespace Courier.Fuzz;

/// <summary>
/// One engine under fuzzing. <see cref="Run"/> throws when the engine does something it must never do: an exception
/// escaping a decoder, or a reply out of proportion to the request (<see cref="AmplificationException"/>).
/// </summary>
internal abstract class FuzzTarget
{
    // Bytes out may exceed bytes in by this factor, plus a fixed allowance per message for status text and headers.
    public const int AmplificationFactor = 8;
    public const int AllowancePerMessage = 512;

    public static IReadOnlyList<FuzzTarget> All { get; } = [new ServerTarget(), new BrokerTarget(), new WorkerTarget()];

    public abstract string Name { get; }

    public void Run(ReadOnlySpan<byte> data) => Run(FuzzInput.Parse(data), checkAmplification: true);

    /// <summary>Plays <paramref name="steps"/>; with <paramref name="checkAmplification"/>, bytes out are bounded too.</summary>
    public abstract void Run(IReadOnlyList<FuzzStep> steps, bool checkAmplification);

    public static FuzzTarget Named(string name)
        => All.FirstOrDefault(t => t.Name == name)
           ?? throw new ArgumentException($"no fuzz target '{name}'; targets: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));

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
