using Courier.Protocol.Internal;

namespace Courier.Broker.Internal;

/// <summary>The broker's requests, reused, and the tokens that name them to workers. Loop thread only.</summary>
internal sealed class RequestPool
{
    // Finished requests are kept for reuse, up to a bound: under load every request would otherwise be garbage.
    private const int Spares = 4096;
    private readonly Stack<BrokerRequest> _spare = new();
    private ulong _nextToken;

    /// <summary>A request for <paramref name="service"/> holding <paramref name="request"/>, under a token never given before.</summary>
    public BrokerRequest Rent(InboundRequest request, BrokerService service)
        => (_spare.TryPop(out var spare) ? spare : new BrokerRequest()).Set(++_nextToken, request, service);

    /// <summary>A request nothing refers to any more.</summary>
    public void Return(BrokerRequest request)
    {
        request.Clear();
        if (_spare.Count < Spares)
        {
            _spare.Push(request);
        }
    }
}
