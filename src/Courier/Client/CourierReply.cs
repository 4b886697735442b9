using System.Text;

namespace Courier.Client;

/// <summary>
/// A successful reply. Disposing it is optional, unless the client lends large reply frames
/// (<see cref="CourierClientOptions.LendLargeReplies"/>): then it gives them back.
/// </summary>
public sealed class CourierReply : IDisposable
{
    private Transport.Internal.LentFrames _lent;

    /// <summary>
    /// A successful reply from <paramref name="service"/> with <paramref name="frames"/> as its body: the client makes
    /// these, and a fake <see cref="ICourierClient"/> makes one to answer the code under test
    /// (<c>new CourierReply("greet", CourierBody.Text("hello, world"))</c>). The frames are kept, not copied.
    /// </summary>
    public CourierReply(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames)
        : this(service, frames, Protocol.CourierHeaders.Empty)
    {
    }

    /// <summary>A successful reply with <paramref name="headers"/> (courier/5), as the client makes it, or a fake.</summary>
    public CourierReply(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames, Protocol.CourierHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(frames);
        ArgumentNullException.ThrowIfNull(headers);
        Service = service;
        Frames = frames;
        Headers = headers;
    }

    internal CourierReply(string service, Transport.Internal.LentBody body, Protocol.CourierHeaders headers)
        : this(service, body.Frames, headers)
    {
        _lent = body.Lent;
    }

    /// <summary>The headers the handler set on its reply (empty when none, or from a peer before courier/5).</summary>
    public Protocol.CourierHeaders Headers { get; }

    /// <summary>The service that answered.</summary>
    public string Service { get; }

    /// <summary>The reply's body frames.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Frames { get; }

    /// <summary>The first body frame, or empty.</summary>
    public ReadOnlyMemory<byte> Body => Frames.Count > 0 ? Frames[0] : ReadOnlyMemory<byte>.Empty;

    /// <summary>The first body frame as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body.Span);

    /// <summary>
    /// Gives back the frames the client lent this reply (<see cref="CourierClientOptions.LendLargeReplies"/>): reading
    /// them afterwards throws <see cref="ObjectDisposedException"/>. Dispose only once nothing reads them any more: a
    /// span or pin taken before is not tracked. Does nothing for a reply that borrowed nothing.
    /// </summary>
    public void Dispose()
    {
        var lent = _lent;
        _lent = default;
        lent.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(" | ", Frames.Select(f => Encoding.UTF8.GetString(f.Span)));
}
