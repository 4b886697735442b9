using System.Globalization;
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

    /// <summary>
    /// The most bytes a probe's answer may hold, all frames together: a version, a few words of capabilities and an
    /// incarnation take a small part of it. A larger "answer" is a peer's junk, dropped before it is copied.
    /// </summary>
    public const int MaxProbeAnswerLength = 4096;

    /// <summary><c>courier/2</c>: one-frame Courier headers, pipelining, a status in every reply.</summary>
    public static readonly byte[] Courier2 = "courier/2"u8.ToArray();

    /// <summary><c>courier/3</c>: everything of courier/2, and batches (docs/protocol.md §6).</summary>
    public static readonly byte[] Courier3 = "courier/3"u8.ToArray();

    /// <summary>
    /// <c>courier/4</c>: everything of courier/3, and workers that register several services on one connection and
    /// say their name (docs/protocol.md §3). Only workers gain from it; a client that hears it treats it as courier/3.
    /// </summary>
    public static readonly byte[] Courier4 = "courier/4"u8.ToArray();

    /// <summary>
    /// <c>courier/5</c>: everything of courier/4, and delivery (docs/protocol.md §8): requests carry the client's
    /// identity, the attempt, a deadline budget, an idempotent flag and headers; replies carry headers; CANCEL; workers
    /// declare idempotent services.
    /// </summary>
    public static readonly byte[] Courier5 = "courier/5"u8.ToArray();

    /// <summary>
    /// <c>courier/6</c>: everything of courier/5, and a worker that holds all it can of a service answers a request
    /// beyond that <c>429</c>, which its broker gives to another worker (docs/protocol.md §3); to a broker of an older
    /// version it answers 503. Only workers gain from it; a client that hears it treats it as courier/5.
    /// </summary>
    public static readonly byte[] Courier6 = "courier/6"u8.ToArray();

    /// <summary>
    /// <c>courier/7</c>: everything of courier/6, and larger batches (docs/protocol.md §6): bodies up to 32 KiB are packed
    /// and a batch may reach 256 KiB, in both directions. A client flags each batched request (<c>LargeReplies</c>) so
    /// that its server or broker knows it takes reply batches that large. Clients and workers offer it.
    /// </summary>
    public static readonly byte[] Courier7 = "courier/7"u8.ToArray();

    /// <summary>The newest version this build speaks.</summary>
    public const int Newest = 7;

    private const string Prefix = "courier/";

    /// <summary>What a worker's READY capability frame starts with: <c>courier/2 capacity=N</c>.</summary>
    public const string WorkerCapability2 = "courier/2 capacity=";

    /// <summary>The same for a worker that also takes and sends batches.</summary>
    public const string WorkerCapability3 = "courier/3 capacity=";

    /// <summary>The same for a worker that may register several services on its connection, and may add <c> name=NAME</c>.</summary>
    public const string WorkerCapability4 = "courier/4 capacity=";

    /// <summary>The same for a worker that speaks courier/5: <c> idempotent</c> may follow the capacity.</summary>
    public const string WorkerCapability5 = "courier/5 capacity=";

    /// <summary>The same for a worker that speaks courier/6 (as courier/5's).</summary>
    public const string WorkerCapability6 = "courier/6 capacity=";

    /// <summary>The same for a worker that speaks courier/7 (as courier/5's).</summary>
    public const string WorkerCapability7 = "courier/7 capacity=";

    /// <summary>The length of the incarnation frame after the version in a probe answer (docs/protocol.md §2, Negotiation).</summary>
    public const int IncarnationLength = 8;

    /// <summary>The incarnation a probe answer's frame names, or null for a frame that is none (a peer that sends none).</summary>
    public static ulong? IncarnationOf(ReadOnlySpan<byte> frame)
        => frame.Length == IncarnationLength ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frame) : null;

    /// <summary>
    /// The answer to a probe whose body is <paramref name="offer"/>: the newest version both speak, so <c>courier/7</c> to
    /// an offer of courier/7 (or of any newer version), <c>courier/6</c> to courier/6, <c>courier/5</c> to courier/5, <c>courier/4</c> to courier/4, <c>courier/3</c> to courier/3, and <c>courier/2</c> to anything
    /// else, as Courier peers before batches probe with no body at all.
    /// </summary>
    public static byte[] AnswerTo(ReadOnlySpan<byte> offer) => AnswerTo(offer, Newest);

    /// <summary>The answer to <paramref name="offer"/> from a peer that speaks up to <paramref name="newest"/> (<see cref="NewestFor"/>).</summary>
    public static byte[] AnswerTo(ReadOnlySpan<byte> offer, int newest) => Bytes(Math.Min(Parse(offer), newest));

    /// <summary>
    /// The newest version a peer whose frames may be at most <paramref name="maxFrameSize"/> bytes
    /// (<c>TransportOptions.MaxFrameSize</c>) may agree on: courier/6 below a courier/7 batch, which libzmq would otherwise
    /// take for an oversized message and drop the connection over.
    /// </summary>
    public static int NewestFor(long maxFrameSize) => maxFrameSize >= Batch.LargeMaxFrameLength ? Newest : 6;

    /// <summary>What a client or worker whose frames may be at most <paramref name="maxFrameSize"/> bytes offers in its probe (<see cref="NewestFor"/>).</summary>
    public static byte[] OfferFor(long maxFrameSize) => Bytes(NewestFor(maxFrameSize));

    /// <summary>Which version an answer body names: 2 to <see cref="Newest"/>, or 0 when it names none (the peer does not speak Courier).</summary>
    public static int Of(ReadOnlySpan<byte> answer) => Parse(answer) is var version and >= 2 and <= Newest ? version : 0;

    /// <summary>The version string of <paramref name="version"/> (2 to <see cref="Newest"/>; anything lower is courier/2).</summary>
    public static byte[] Bytes(int version) => version switch
    {
        >= 7 => Courier7,
        6 => Courier6,
        5 => Courier5,
        4 => Courier4,
        3 => Courier3,
        _ => Courier2,
    };

    /// <summary>N of <c>courier/N</c>; 0 when <paramref name="text"/> is not a version string.</summary>
    private static int Parse(ReadOnlySpan<byte> text)
    {
        if (!text.StartsWith("courier/"u8) || text.Length == Prefix.Length || text.Length > Prefix.Length + 4)
        {
            return 0;
        }

        var digits = text[Prefix.Length..];
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return 0;
            }
        }

        return int.Parse(Encoding.ASCII.GetString(digits), NumberStyles.None, CultureInfo.InvariantCulture);
    }
}
