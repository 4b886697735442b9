using Courier.Broker;
using Courier.Extensions.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Extensions.Hosting;

/// <summary>
/// Configures the <see cref="CourierBroker"/> registered by <c>AddCourierBroker</c>: options from the configuration
/// section <see cref="SectionPath"/> (<c>Courier:Broker</c>), then each configure delegate in order; validated when the
/// host starts; bound when the host starts and closed when it stops.
/// </summary>
public sealed class CourierBrokerBuilder
{
    private readonly OptionsRegistration<CourierBrokerOptions> _options;

    internal CourierBrokerBuilder(IServiceCollection services, OptionsRegistration<CourierBrokerOptions> options)
    {
        Services = services;
        _options = options;
    }

    /// <summary>The service collection the broker is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The configuration section bound first.</summary>
    public string SectionPath => _options.SectionPath;

    /// <summary>Binds the options from <paramref name="sectionPath"/> instead of <see cref="SectionPath"/>.</summary>
    public CourierBrokerBuilder BindConfiguration(string sectionPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        _options.SectionPath = sectionPath;
        return this;
    }

    /// <summary>Changes the options: <c>options =&gt; options with { Endpoint = "tcp://*:5555" }</c>.</summary>
    public CourierBrokerBuilder Configure(Func<CourierBrokerOptions, CourierBrokerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _options.Configure((_, options) => configure(options));
        return this;
    }

    /// <summary>Changes the options with services at hand.</summary>
    public CourierBrokerBuilder Configure(Func<IServiceProvider, CourierBrokerOptions, CourierBrokerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _options.Configure(configure);
        return this;
    }
}
