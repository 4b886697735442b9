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

    public readonly record struct Entry(string Service, Func<IServiceProvider, CourierHandler> Create, int? Concurrency);

    public IReadOnlyList<Entry> Entries => _entries;

    public void Add(string service, Func<IServiceProvider, CourierHandler> create, int? concurrency = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentNullException.ThrowIfNull(create);
        if (concurrency is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "Concurrency must be positive.");
        }

        _entries.RemoveAll(e => e.Service == service);
        _entries.Add(new Entry(service, create, concurrency));
    }

    public void AddClass<THandler>(string service, int? concurrency = null)
        where THandler : class, ICourierHandler
    {
        services.TryAddScoped<THandler>();
        Add(service, ScopedHandlers.Frames<THandler>, concurrency);
    }

    public void AddTyped<THandler, TRequest, TReply>(string service, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, int? concurrency = null)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        ArgumentNullException.ThrowIfNull(requestType);
        ArgumentNullException.ThrowIfNull(replyType);
        services.TryAddScoped<THandler>();
        Add(service, provider => CourierJson.Handler(ScopedHandlers.Typed<THandler, TRequest, TReply>(provider), requestType, replyType), concurrency);
    }

    public void AddTyped<THandler, TRequest, TReply>(string service, JsonSerializerContext context, int? concurrency = null)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        ArgumentNullException.ThrowIfNull(context);
        services.TryAddScoped<THandler>();
        // Checked now, at registration, so a context without the types fails where the mapping is written.
        _ = CourierJson.Handler<TRequest, TReply>((_, _) => default, context);
        Add(service, provider => CourierJson.Handler(ScopedHandlers.Typed<THandler, TRequest, TReply>(provider), context), concurrency);
    }
}
