namespace Viper.Schedulers;

/// <summary>
/// diffusers' EulerAncestralDiscreteScheduler: an Euler step to σ_down, then fresh noise of scale σ_up, with
/// σ_up = √(σ_next²(σ² − σ_next²)/σ²) and σ_down = √(σ_next² − σ_up²).
/// </summary>
public sealed class EulerAncestralScheduler(SchedulerConfig config) : EulerDiscreteScheduler(config)
{
    public override StepPlan Plan(int index)
    {
        RequireTimesteps();
        (double sigma, double sigmaNext) = (Sigmas[index], Sigmas[index + 1]);
        double sigmaUp = Math.Sqrt(sigmaNext * sigmaNext * ((sigma * sigma) - (sigmaNext * sigmaNext)) / (sigma * sigma));
        double sigmaDown = Math.Sqrt((sigmaNext * sigmaNext) - (sigmaUp * sigmaUp));
        return EulerPlan(sigma, sigmaDown - sigma, sigmaUp, StepExtra.Noise);
    }
}
