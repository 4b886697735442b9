using System.Buffers.Binary;

namespace Courier.Fuzz;

/// <summary>What one fuzz input asks of an engine, in order.</summary>
internal enum StepKind
{
    /// <summary>A message from <see cref="FuzzStep.Peer"/>.</summary>
    Message,

    /// <summary>Time passes (by <see cref="FuzzStep.Peer"/> × 100 ms) and the loop ticks.</summary>
    Tick,

    /// <summary><see cref="FuzzStep.Peer"/>'s connection dropped.</summary>
    Disconnect,
}

internal readonly record struct FuzzStep(StepKind Kind, int Peer, byte[][] Frames);

/// <summary>
/// Reads fuzz bytes as a script of steps: <c>peer(1) count(1)</c> then <c>count</c> frames of <c>length(2, big-endian)
/// data</c>. A count of 0 is a tick, 255 a disconnect. Whatever is cut short ends the script; every input is some script,
/// so afl's mutations of a seed stay meaningful.
/// </summary>
internal static class FuzzInput
{
    public const int MaxSteps = 64;
    public const int Peers = 4;

    public static List<FuzzStep> Parse(ReadOnlySpan<byte> data)
    {
        var steps = new List<FuzzStep>();
        while (data.Length >= 2 && steps.Count < MaxSteps)
        {
            var peer = data[0] % Peers;
            var count = data[1];
            data = data[2..];
            if (count == 0)
            {
                steps.Add(new FuzzStep(StepKind.Tick, peer, []));
                continue;
            }

            if (count == 255)
            {
                steps.Add(new FuzzStep(StepKind.Disconnect, peer, []));
                continue;
            }

            var frames = new byte[count][];
            for (var i = 0; i < count; i++)
            {
                if (data.Length < 2)
                {
                    frames[i] = data.ToArray();
                    data = [];
                    continue;
                }

                var length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(data), data.Length - 2);
                frames[i] = data.Slice(2, length).ToArray();
                data = data[(2 + length)..];
            }

            steps.Add(new FuzzStep(StepKind.Message, peer, frames));
        }

        return steps;
    }

    /// <summary>The inverse of <see cref="Parse"/>, for writing seeds from real encoders.</summary>
    public static byte[] Write(IEnumerable<FuzzStep> steps)
    {
        var output = new List<byte>();
        foreach (var step in steps)
        {
            output.Add((byte)step.Peer);
            switch (step.Kind)
            {
                case StepKind.Tick:
                    output.Add(0);
                    break;
                case StepKind.Disconnect:
                    output.Add(255);
                    break;
                default:
                    output.Add(checked((byte)step.Frames.Length));
                    foreach (var frame in step.Frames)
                    {
                        output.Add((byte)(frame.Length >> 8));
                        output.Add((byte)frame.Length);
                        output.AddRange(frame);
                    }

                    break;
            }
        }

        return [.. output];
    }
}
