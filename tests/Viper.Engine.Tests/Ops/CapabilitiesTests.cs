using System.Reflection;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>The op groups a model asks for: offered by both backends, refused by name on a backend without them.</summary>
public class CapabilitiesTests
{
    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void BothBackendsOfferEveryGroup(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        Assert.Same(b, b.Decoding());
        Assert.Same(b, b.Diffusion());
        Assert.Same(b, b.Training());
    }

    [Fact]
    public void ABackendWithOnlyTheCoreOpsIsRefusedByName()
    {
        IBackend core = DispatchProxy.Create<IBackend, CoreOnly>();
        Assert.Equal("the core-only backend has no diffusion (group norm, timestep embedding, guidance) ops (IDiffusionOps)",
            Assert.Throws<NotSupportedException>(() => core.Diffusion()).Message);
        Assert.Contains("(IDecodingOps)", Assert.Throws<NotSupportedException>(() => core.Decoding()).Message);
        Assert.Contains("(ITrainingOps)", Assert.Throws<NotSupportedException>(() => core.Training()).Message);
        Assert.Throws<NotSupportedException>(() => Viper.Models.Unet.UNet2DConditionModel.Load("no-such-folder", core, DType.F32)); // before reading anything
    }

    /// <summary>An <see cref="IBackend"/> and nothing more: its name, and no op ever runs.</summary>
    public class CoreOnly : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == "get_Name" ? "core-only" : throw new InvalidOperationException($"{targetMethod?.Name} was not expected to run");
    }
}
