using System.Text;

namespace Courier.Protocol.Internal;

/// <summary>
/// Every version string of Courier's negotiated extensions to 7/MDP (docs/protocol.md), in one place. A peer offers
/// the newest it speaks in its 8/MMI probe; the other answers with the newest both speak.
/// </summary>
internal static class ProtocolVersions
{
    /// <summary>The 8/MMI service a Courier peer answers to say which Courier version it speaks.</summary>
    public const string ProbeService = "mmi.courier";

    public static readonly byte[] ProbeServiceBytes = Encoding.ASCII.GetBytes(ProbeService);

    /// <summary><c>courier/2</c>: one-frame Courier headers, pipelining, a status in every reply.</summary>
    public static readonly byte[] Courier2 = "courier/2"u8.ToArray();

    /// <summary><c>courier/3</c>: everything of courier/2, and batches (docs/protocol.md §6).</summary>
    public static readonly byte[] Courier3 = "courier/3"u8.ToArray();

    /// <summary>What a worker's READY capability frame starts with: <c>courier/2 capacity=N</c>.</summary>
    public const string WorkerCapability2 = "courier/2 capacity=";

    /// <summary>The same for a worker that also takes and sends batches.</summary>
    public const string WorkerCapability3 = "courier/3 capacity=";

    /// <summary>
    /// The answer to a probe whose body is <paramref name="offer"/>: <c>courier/3</c> to a peer that offers it,
    /// <c>courier/2</c> to one that offers nothing, as Courier peers before batches probe.
    /// </summary>
    public static byte[] AnswerTo(ReadOnlySpan<byte> offer) => offer.SequenceEqual(Courier3) ? Courier3 : Courier2;

    /// <summary>Which version an answer body names: 3, 2, or 0 when it names none (the peer does not speak Courier).</summary>
    public static int Of(ReadOnlySpan<byte> answer) => answer.SequenceEqual(Courier3) ? 3 : answer.SequenceEqual(Courier2) ? 2 : 0;
}
