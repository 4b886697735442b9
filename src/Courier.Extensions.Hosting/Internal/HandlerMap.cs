using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json;
using Courier.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Courier.Extensions.Hosting.Internal;

/// <summary>The services a hosted server or worker maps, each made from the service provider when the host builds it.</summary>
internal sealed class HandlerMap(IServiceCollection services)
{
    private readonly List<Entry> _entries = [];

    /// <summary>One mapped service: how its handler is made, and what the server or worker is told of it (null: its options' default).</summary>
    public readonly record struct Entry(string Service, Func<IServiceProvider, CourierHandler> Create, Mapping Mapping);

    /// <summary>A worker's concurrency and prefetch for the service (a server takes neither), and whether it is idempotent.</summary>
    public readonly record struct Mapping(int? Concurrency = null, bool Idempotent = false, int? Prefetch = null)
    {
        /// <summary>Checked where the mapping is written; the worker checks the bounds again against its options when built.</summary>
        public static Mapping Of(int? concurrency, bool idempotent, int? prefetch)
        {
            if (concurrency is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "Concurrency must be positive.");
            }

            if (prefetch is < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(prefetch), prefetch, "Prefetch must be 0 or more.");
            }

            return new(concurrency, idempotent, prefetch);
        }
    }

    public IReadOnlyList<Entry> Entries => _entries;

    public void Add(string service, Func<IServiceProvider, CourierHandler> create, Mapping mapping = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(create);

        _entries.RemoveAll(e => e.Service == service);
        _entries.Add(new Entry(service, create, mapping));
    }

    public void AddClass<THandler>(string service, Mapping mapping = default)
        where THandler : class, ICourierHandler
    {
        services.TryAddScoped<THandler>();
        Add(service, ScopedHandlers.Frames<THandler>, mapping);
    }

    public void AddTyped<THandler, TRequest, TReply>(string service, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, Mapping mapping = default)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        ArgumentNullException.ThrowIfNull(requestType);
        ArgumentNullException.ThrowIfNull(replyType);
        services.TryAddScoped<THandler>();
        Add(service, provider => CourierJson.Handler(ScopedHandlers.Typed<THandler, TRequest, TReply>(provider), requestType, replyType), mapping);
    }

    public void AddTyped<THandler, TRequest, TReply>(string service, JsonSerializerContext context, Mapping mapping = default)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        ArgumentNullException.ThrowIfNull(context);
        services.TryAddScoped<THandler>();
        // Checked now, at registration, so a context without the types fails where the mapping is written.
        _ = CourierJson.Handler<TRequest, TReply>((_, _) => default, context);
        Add(service, provider => CourierJson.Handler(ScopedHandlers.Typed<THandler, TRequest, TReply>(provider), context), mapping);
    }
}
