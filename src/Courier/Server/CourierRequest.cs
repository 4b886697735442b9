using System.Text;

namespace Courier.Server;

/// <summary>Serves one request: returns the reply's body frames, or throws to answer with an error (status 500).</summary>
public delegate ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> CourierHandler(CourierRequest request, CancellationToken cancellationToken);

/// <summary>A request as a handler sees it.</summary>
public sealed class CourierRequest
{
    internal CourierRequest(string service, IReadOnlyList<ReadOnlyMemory<byte>> frames)
    {
        Service = service;
        Frames = frames;
    }

    /// <summary>The service requested.</summary>
    public string Service { get; }

    /// <summary>The body frames, as the client sent them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Frames { get; }

    /// <summary>The first body frame, or empty.</summary>
    public ReadOnlyMemory<byte> Body => Frames.Count > 0 ? Frames[0] : ReadOnlyMemory<byte>.Empty;

    /// <summary>The first body frame as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body.Span);
}
