using Courier.Client;

namespace Courier.Protocol.Internal;

/// <summary>What a connection has learned of its peer: whether it speaks Courier, and whether it takes batches.</summary>
internal enum PeerMode
{
    /// <summary>The probe is out and unanswered: nothing but the probe may be sent.</summary>
    Probing,

    /// <summary>Courier framing (courier/2 or later).</summary>
    Courier,

    /// <summary>Plain 7/MDP: a third-party peer, or one that did not answer the probe in time.</summary>
    Plain,
}

/// <summary>
/// Protocol negotiation for one connection, used by the client and the worker alike: with <see cref="ClientProtocol.Auto"/>
/// an 8/MMI probe (<c>mmi.courier</c>, offering the newest version its owner speaks, courier/7) goes first and its answer decides; otherwise the mode is set without asking. Lives as long as its
/// connection. Loop thread only.
/// </summary>
internal sealed class Negotiation
{
    private byte[] _offer;

    /// <summary>
    /// Starts negotiating, offering <paramref name="offer"/>; when the mode is <see cref="PeerMode.Probing"/>, send
    /// <see cref="ProbeFrames"/> and wait until <paramref name="probeDeadline"/>.
    /// </summary>
    public Negotiation(ClientProtocol protocol, long probeDeadline, byte[] offer)
    {
        _offer = offer;
        Mode = protocol switch
        {
            ClientProtocol.Courier => PeerMode.Courier,
            ClientProtocol.Mdp => PeerMode.Plain,
            _ => PeerMode.Probing,
        };
        Version = Mode == PeerMode.Courier ? 2 : 0;
        ProbeDeadline = Mode == PeerMode.Probing ? probeDeadline : long.MaxValue;
    }

    private Negotiation(int version)
    {
        _offer = ProtocolVersions.Bytes(version);
        Mode = version >= 2 ? PeerMode.Courier : PeerMode.Plain;
        Version = version;
        ProbeDeadline = long.MaxValue;
    }

    public PeerMode Mode { get; private set; }

    /// <summary>The Courier version agreed: 0 for plain 7/MDP (or while probing), else 2 to <see cref="ProtocolVersions.Newest"/>.</summary>
    public int Version { get; private set; }

    /// <summary>The peer answered courier/3 or later: requests and replies may travel in batches.</summary>
    public bool PeerBatches => Version >= 3;

    /// <summary>The peer answered courier/4 or later: a worker may register several services on this connection.</summary>
    public bool PeerMultiService => Version >= 4;

    /// <summary>The peer answered courier/5 or later: requests carry identity, budget and headers; CANCEL (docs/protocol.md §8).</summary>
    public bool PeerDelivery => Version >= 5;

    /// <summary>A broker that takes a worker's 429 for "no room now" and gives the request to another (courier/6).</summary>
    public bool PeerRequeuesFull => Version >= 6;

    /// <summary>A broker that reads a worker's DISCONNECT "drained" as "what I still hold of yours never ran" (courier/6).</summary>
    public bool PeerReadsDrained => Version >= 6;

    /// <summary>The peer answered courier/7: batches either way may be as large as <see cref="Batch.LargeMaxFrameLength"/>.</summary>
    public bool PeerLargeBatches => Version >= 7;

    /// <summary>When an unanswered probe gives up; <see cref="long.MaxValue"/> when none is out.</summary>
    public long ProbeDeadline { get; private set; }

    /// <summary>The probe: a 7/MDP client request to <c>mmi.courier</c> whose body offers a version.</summary>
    public ReadOnlyMemory<byte>[] ProbeFrames => [Mdp.Empty, Mdp.ClientHeader, ProtocolVersions.ProbeServiceBytes, _offer];

    /// <summary>
    /// A negotiation already settled on <paramref name="version"/> (0: plain 7/MDP), for another connection to a peer
    /// whose answer is known: it sends no probe.
    /// </summary>
    public static Negotiation Settled(int version) => new(version);

    /// <summary>True for the answer to a probe: <c>"", "MDPC01", "mmi.courier", …</c>.</summary>
    public static bool IsProbeAnswer(IReadOnlyList<byte[]> frames)
        => frames.Count >= 3 && frames[0].Length == 0 && frames[1].AsSpan().SequenceEqual(Mdp.ClientHeader)
            && frames[2].AsSpan().SequenceEqual(ProtocolVersions.ProbeServiceBytes);

    /// <summary>
    /// Which Courier version a probe answer (<c>"", "MDPC01", "mmi.courier", status, body</c>) names: 2 to
    /// <see cref="ProtocolVersions.Newest"/>, or 0 when the peer does not speak Courier.
    /// </summary>
    public static int VersionOf(IReadOnlyList<byte[]> answer)
        => answer.Count < 5 || StatusFrames.Parse(answer[3]) != CourierStatus.Ok ? 0 : ProtocolVersions.Of(answer[4]);

    /// <summary>
    /// Takes the probe's answer and settles the mode; returns false when, instead, the probe must go out again
    /// (<see cref="ProbeFrames"/>, now offering courier/3). That is when an offer newer than courier/3 was answered
    /// courier/2: Courier peers from before courier/4 answer courier/3 only to an offer of exactly that, and courier/2 to
    /// anything else, so asking once more keeps batches with them.
    /// </summary>
    public bool Answered(IReadOnlyList<byte[]> answer)
    {
        var version = VersionOf(answer);
        if (version == 2 && ProtocolVersions.Of(_offer) > 3)
        {
            _offer = ProtocolVersions.Courier3;
            return false;
        }

        Mode = version >= 2 ? PeerMode.Courier : PeerMode.Plain;
        Version = version;
        ProbeDeadline = long.MaxValue;
        return true;
    }

    /// <summary>
    /// The probe goes out again (<see cref="Answered"/> said so), with a deadline of its own: the second round trip gets
    /// the time the first had, not what the first left of it.
    /// </summary>
    public void ProbeAgain(long deadline) => ProbeDeadline = deadline;

    /// <summary>Settles on <paramref name="mode"/> without (or without waiting for) an answer: a probe that timed out.</summary>
    public void Settle(PeerMode mode)
    {
        Mode = mode;
        Version = mode == PeerMode.Courier ? 2 : 0;
        ProbeDeadline = long.MaxValue;
    }
}
